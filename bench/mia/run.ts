/**
 * `npm run eval:mia`: proof by attack of the output defenses. A target classifier that
 * memorises its members (bench/mia/kernel-model.ts) is served by the demo model server
 * (a separate process) behind a real gateway; the attacks of bench/mia/attacks.ts run as
 * a client through the gateway, once per policy, and the results go to
 * bench/results/mia.json and to the table in docs/defenses.md.
 *
 * Options: --repeats N (averaging attack, default 50), --quick (a small run for a smoke
 * test; writes nothing unless --out is given), --out FILE, --render-docs (only rewrite the
 * docs table from the committed results). About 8 minutes on 2 cores.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from '../../src/detect/ort.js';
import { argmax, defendRow } from '../../src/defend/classifier.js';
import { classifierPolicySchema } from '../../src/defend/config.js';
import { normalStream } from '../../src/defend/noise.js';
import { loadMnist, selectRows, type MnistSet } from '../../src/demo/mnist-data.js';
import { Rng } from '../../src/ml/rng.js';
import { startGateway } from '../../test/helpers/gateway.js';
import { spawnServer } from '../../test/helpers/spawn.js';
import {
  attackMetrics,
  averageAnswers,
  entropyScores,
  thresholdScores,
  top1Accuracy,
  trainShadowAttack,
  type Answers,
  type AttackMetrics,
} from './attacks.js';
import { kernelClassifierOnnx } from './kernel-model.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS = join(ROOT, 'bench/results/mia.json');
const DOCS = join(ROOT, 'docs/defenses.md');
const CLASSES = 10;
const PIXELS = 784;
const SEED = 20250101;
const KERNEL_WIDTH = 1;
// A fixed key makes the run reproducible; the attacks do not know it.
const NOISE_KEY = 'palisade-mia-eval-noise-key-not-a-secret';
const BATCH = 100;
const CONCURRENCY = 4;
/** Members and non-members the averaging attack repeats its queries for. */
export const AVERAGING_RECORDS = 250;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The policies under test: the `classifier` section of each (outputs added below). */
export const POLICIES: { name: string; classifier?: Record<string, unknown> }[] = [
  { name: 'none' },
  { name: 'top-3', classifier: { topK: 3 } },
  { name: 'round-2', classifier: { decimals: 2 } },
  { name: 'noise-0.1', classifier: { noise: { scale: 0.1 } } },
  { name: 'noise-0.5', classifier: { noise: { scale: 0.5 } } },
  { name: 'noise-1.0', classifier: { noise: { scale: 1 } } },
  { name: 'label-only', classifier: { labelOnly: true } },
];

/** One line of bench/results/mia.json (the shape the issue fixes). */
export interface MiaRun {
  policy: string;
  accuracy: number;
  attacks: { threshold: AttackMetrics; entropy: AttackMetrics; shadow: AttackMetrics; averaging: AttackMetrics };
}
export interface MiaResults {
  members: number;
  nonMembers: number;
  runs: MiaRun[];
}

/**
 * bench/results/mia-averaging.json: the averaging attack beside the single query on the
 * same records, and, for noise policies, what averaging would gain if the noise were
 * fresh on every query (simulated on the attacker's shadow model; the gateway never does that).
 */
export interface AveragingResults {
  records: number;
  repeats: number;
  runs: { policy: string; singleQuery: AttackMetrics; averaged: AttackMetrics; freshNoiseSimulated?: { singleQuery: AttackMetrics; averaged: AttackMetrics } }[];
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Member, non-member, test and attacker data: disjoint draws from the 10,000 digits. */
function split(M: number, TEST: number): { members: MnistSet; nonMembers: MnistSet; test: MnistSet; shadowMembers: MnistSet; shadowNonMembers: MnistSet } {
  const { all } = loadMnist();
  const order = new Rng(SEED).permutation(all.n);
  let at = 0;
  const take = (k: number) => {
    const set = selectRows(all, order.subarray(at, (at += k)));
    // The package stores 3 decimals; send exactly those (the float32 centres equal them).
    for (let i = 0; i < set.x.length; i++) set.x[i] = Math.round(set.x[i] * 1000) / 1000;
    return set;
  };
  return { members: take(M), nonMembers: take(M), test: take(TEST), shadowMembers: take(M), shadowNonMembers: take(M) };
}

/** Softmax in float64 of float32 logits: what an attacker computes when logits are released. */
function softmaxRows(logits: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * CLASSES);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < CLASSES; c++) mx = Math.max(mx, logits[i * CLASSES + c]);
    let s = 0;
    for (let c = 0; c < CLASSES; c++) s += Math.exp(logits[i * CLASSES + c] - mx);
    for (let c = 0; c < CLASSES; c++) out[i * CLASSES + c] = Math.exp(logits[i * CLASSES + c] - mx) / s;
  }
  return out;
}

/** The attacker's own copy of the model family, run locally (the shadow model). */
async function localAnswers(onnx: Uint8Array, set: MnistSet): Promise<Answers> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const out = await session.run({ input: new ort.Tensor('float32', set.x, [set.n, PIXELS]) });
    return { probs: softmaxRows(out.logits.data as Float32Array, set.n), labels: set.y, n: set.n, classes: CLASSES };
  } finally {
    await session.release();
  }
}

/** The attacker's simulation of a known policy on its shadow answers (with its own key). */
function simulatePolicy(a: Answers, classifier: Record<string, unknown> | undefined, rng: Rng): Answers {
  if (!classifier) return a;
  const policy = classifierPolicySchema.parse({ outputs: [{ name: 'probabilities' }], ...classifier });
  const probs = new Float64Array(a.probs.length);
  const seed = Buffer.alloc(16);
  for (let i = 0; i < a.n; i++) {
    const row = Array.from(a.probs.subarray(i * CLASSES, (i + 1) * CLASSES));
    for (let k = 0; k < 4; k++) seed.writeUInt32LE(rng.nextUint32(), k * 4);
    probs.set(defendRow(row, argmax(row), policy, normalStream(seed)), i * CLASSES);
  }
  return { ...a, probs };
}

/** The first `n` answers. */
function selectAnswers(a: Answers, n: number): Answers {
  return { probs: a.probs.slice(0, n * CLASSES), labels: Array.from(a.labels).slice(0, n), n, classes: a.classes };
}

/** Queries the gateway for every image of `set`, BATCH images per request, CONCURRENCY at once. */
async function ask(url: string, model: string, set: MnistSet): Promise<Answers> {
  const probs = new Float64Array(set.n * CLASSES);
  const starts: number[] = [];
  for (let s = 0; s < set.n; s += BATCH) starts.push(s);
  const worker = async () => {
    for (let s = starts.shift(); s !== undefined; s = starts.shift()) {
      const n = Math.min(BATCH, set.n - s);
      const res = await fetch(`${url}/v2/models/${model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [n, PIXELS], datatype: 'FP32', data: Array.from(set.x.subarray(s * PIXELS, (s + n) * PIXELS)) }] }),
      });
      const body = (await res.json()) as { outputs?: { name: string; data: number[] }[]; error?: unknown };
      if (res.status !== 200 || !body.outputs) throw new Error(`${model}: ${res.status} ${JSON.stringify(body.error)}`);
      const logits = body.outputs.find((o) => o.name === 'logits');
      // Released logits are the most an attacker can get; else the probabilities as sent.
      const rows = logits ? softmaxRows(logits.data, n) : Float64Array.from(body.outputs.find((o) => o.name === 'probabilities')!.data);
      probs.set(rows, s * CLASSES);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { probs, labels: set.y, n: set.n, classes: CLASSES };
}

const round4 = (m: AttackMetrics): AttackMetrics => ({
  auc: Math.round(m.auc * 1e4) / 1e4,
  balancedAccuracy: Math.round(m.balancedAccuracy * 1e4) / 1e4,
  tprAt1Fpr: Math.round(m.tprAt1Fpr * 1e4) / 1e4,
});

/** The markdown table of the docs, from the results. */
export function renderTable(r: MiaResults, repeats = 50): string {
  const f = (m: AttackMetrics) => `${m.auc.toFixed(3)} / ${m.balancedAccuracy.toFixed(3)} / ${m.tprAt1Fpr.toFixed(3)}`;
  const lines = [
    `${r.members} members, ${r.nonMembers} non-members (the averaging attack: the first ${AVERAGING_RECORDS} of each, every query repeated ${repeats} times). Each attack cell: AUC / balanced accuracy / TPR at 1% FPR.`,
    '',
    `| policy | top-1 accuracy | threshold (Yeom) | modified entropy (Song & Mittal) | shadow model (Shokri) | averaging (${repeats} repeats) | best AUC, full sets |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const run of r.runs) {
    const a = run.attacks;
    // The averaging attack runs on a subset (its sampling error is larger); the second
    // table compares it with a single query on the same records.
    const best = Math.max(a.threshold.auc, a.entropy.auc, a.shadow.auc);
    lines.push(`| ${run.policy} | ${run.accuracy.toFixed(4)} | ${f(a.threshold)} | ${f(a.entropy)} | ${f(a.shadow)} | ${f(a.averaging)} | ${best.toFixed(3)} |`);
  }
  return lines.join('\n');
}

/** The averaging table of the docs. */
export function renderAveragingTable(r: AveragingResults): string {
  const f = (m: AttackMetrics) => m.auc.toFixed(3);
  const lines = [
    `Threshold-attack AUC on the same ${r.records} members and ${r.records} non-members: one query, and the mean of ${r.repeats} repeats of it through the gateway; for the noise policies, the same with noise drawn afresh for every query (simulated on the attacker's shadow model).`,
    '',
    '| policy | one query | mean of repeats | gain | fresh noise: one query | fresh noise: mean of repeats | gain |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const run of r.runs) {
    const fresh = run.freshNoiseSimulated;
    const gain = (a: AttackMetrics, b: AttackMetrics) => (b.auc - a.auc >= 0 ? '+' : '') + (b.auc - a.auc).toFixed(3);
    lines.push(
      `| ${run.policy} | ${f(run.singleQuery)} | ${f(run.averaged)} | ${gain(run.singleQuery, run.averaged)} | ` +
        (fresh ? `${f(fresh.singleQuery)} | ${f(fresh.averaged)} | ${gain(fresh.singleQuery, fresh.averaged)} |` : '| | |'),
    );
  }
  return lines.join('\n');
}

const START = '<!-- mia-table:start (written by npm run eval:mia) -->';
const END = '<!-- mia-table:end -->';

/** Replaces the table between the markers of docs/defenses.md. */
export function withTable(doc: string, table: string): string {
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/defenses.md has no ${START} ... ${END} markers`);
  return `${doc.slice(0, a + START.length)}\n${table}\n${doc.slice(b)}`;
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      repeats: { type: 'string', default: '50' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      'render-docs': { type: 'boolean', default: false },
    },
  });
  if (args['render-docs']) {
    // Only rewrites the docs table from the committed results (after a change of its layout).
    const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as MiaResults;
    const avg = JSON.parse(readFileSync(RESULTS.replace(/\.json$/, '-averaging.json'), 'utf8')) as AveragingResults;
    writeFileSync(DOCS, withTable(readFileSync(DOCS, 'utf8'), `${renderTable(results, avg.repeats)}\n\n${renderAveragingTable(avg)}`));
    return;
  }
  const QUICK = args.quick;
  const M = QUICK ? 300 : 2000;
  const REPEATS = Number(args.repeats);
  const started = performance.now();
  const data = split(M, QUICK ? 200 : 1000);
  const dir = mkdtempSync(join(tmpdir(), 'palisade-mia-'));
  const targetPath = join(dir, 'target.onnx');
  writeFileSync(targetPath, kernelClassifierOnnx(data.members, KERNEL_WIDTH));
  const shadowOnnx = kernelClassifierOnnx(data.shadowMembers, KERNEL_WIDTH);
  const shadowIn = await localAnswers(shadowOnnx, data.shadowMembers);
  const shadowOut = await localAnswers(shadowOnnx, data.shadowNonMembers);

  const server = await spawnServer('src/demo/kserve-server.ts', ['--model', `target=${targetPath}`], { timeoutMs: 60_000 });
  const policies = POLICIES.map((p) => `    ${p.name}: { classifier: ${JSON.stringify({ outputs: [{ name: 'probabilities' }], ...p.classifier })} }`);
  const models = POLICIES.map((p) => `  - { name: mia-${p.name}, upstream: target, upstreamModel: target${p.classifier ? `, defense: ${p.name}` : ''} }`);
  const gw = await startGateway(`
upstreams:
  target: { protocol: kserve-v2, url: "${server.url}", timeouts: { headers: 120s } }
defenses:
  noiseKey: "${NOISE_KEY}"
  policies:
${policies.filter((_, i) => POLICIES[i].classifier).join('\n')}
models:
${models.join('\n')}
`);
  const runs: MiaRun[] = [];
  const averaging: AveragingResults['runs'] = [];
  const rng = new Rng(SEED + 1);
  // The averaging attack repeats every query 50 times: on a random subset of the members
  // and non-members (the first of each shuffled set), to stay within minutes on 2 cores.
  const avgMembers = selectRows(data.members, range(Math.min(AVERAGING_RECORDS, M)));
  const avgNonMembers = selectRows(data.nonMembers, range(Math.min(AVERAGING_RECORDS, M)));
  try {
    for (const p of POLICIES) {
      const t0 = performance.now();
      const model = `mia-${p.name}`;
      const members = await ask(gw.url, model, data.members);
      const nonMembers = await ask(gw.url, model, data.nonMembers);
      const accuracy = top1Accuracy(await ask(gw.url, model, data.test));
      const shadow = trainShadowAttack(simulatePolicy(shadowIn, p.classifier, rng), simulatePolicy(shadowOut, p.classifier, rng), SEED);
      const repeatsIn: Answers[] = [];
      const repeatsOut: Answers[] = [];
      for (let r = 0; r < REPEATS; r++) {
        repeatsIn.push(await ask(gw.url, model, avgMembers));
        repeatsOut.push(await ask(gw.url, model, avgNonMembers));
      }
      const avgIn = averageAnswers(repeatsIn);
      const avgOut = averageAnswers(repeatsOut);
      const run: MiaRun = {
        policy: p.name,
        accuracy: Math.round(accuracy * 1e4) / 1e4,
        attacks: {
          threshold: round4(attackMetrics(thresholdScores(members), thresholdScores(nonMembers))),
          entropy: round4(attackMetrics(entropyScores(members), entropyScores(nonMembers))),
          shadow: round4(attackMetrics(shadow(members), shadow(nonMembers))),
          averaging: round4(attackMetrics(thresholdScores(avgIn), thresholdScores(avgOut))),
        },
      };
      runs.push(run);
      const single = (a: Answers) => selectAnswers(a, avgMembers.n);
      const avgRun: AveragingResults['runs'][number] = {
        policy: p.name,
        singleQuery: round4(attackMetrics(thresholdScores(single(members)), thresholdScores(single(nonMembers)))),
        averaged: run.attacks.averaging,
      };
      if (p.classifier?.noise) {
        // What fresh noise on every query would give away: the attacker's own model, 50 draws.
        const sIn = selectAnswers(shadowIn, avgMembers.n);
        const sOut = selectAnswers(shadowOut, avgMembers.n);
        const draws = (a: Answers) => Array.from({ length: REPEATS }, () => simulatePolicy(a, p.classifier, rng));
        const dIn = draws(sIn);
        const dOut = draws(sOut);
        avgRun.freshNoiseSimulated = {
          singleQuery: round4(attackMetrics(thresholdScores(dIn[0]), thresholdScores(dOut[0]))),
          averaged: round4(attackMetrics(thresholdScores(averageAnswers(dIn)), thresholdScores(averageAnswers(dOut)))),
        };
      }
      averaging.push(avgRun);
      log(`${p.name}: ${JSON.stringify(run)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  } finally {
    await gw.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const results: MiaResults = { members: M, nonMembers: M, runs };
  const table = renderTable(results, REPEATS);
  process.stdout.write(`${table}\n`);
  const out = args.out ?? (QUICK ? undefined : RESULTS);
  if (out) {
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    const avg: AveragingResults = { records: avgMembers.n, repeats: REPEATS, runs: averaging };
    writeFileSync(out.replace(/\.json$/, '-averaging.json'), `${JSON.stringify(avg, null, 2)}\n`);
    process.stdout.write(`${renderAveragingTable(avg)}\n`);
  }
  if (!QUICK) {
    const avgTable = renderAveragingTable({ records: avgMembers.n, repeats: REPEATS, runs: averaging });
    writeFileSync(DOCS, withTable(readFileSync(DOCS, 'utf8'), `${table}\n\n${avgTable}`));
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`eval:mia failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
