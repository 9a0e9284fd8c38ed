/**
 * The results of `npm run eval:prompt-injection:nested` (nested-eval.ts), as written to
 * models/prompt-injection/nested-eval.json, and their section of the model card. Pure
 * (no training, no I/O): the model card writer, nested-eval.ts and the test of the
 * committed results all render the section from the JSON with this code.
 */
import type { Recipe } from './recipe.js';

/** Confusion counts at one threshold (scores >= threshold are flagged). */
export interface Counts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface Candidate {
  /** `h<hidden>-t<truncate>-n<notices>/s<seed>`. */
  name: string;
  /** The package whose recipe this is, if any. */
  package?: string;
  recipe: Recipe;
}

/** One outer fold: the inner comparison (the other three folds only), the choice, and the choice scored on this fold. */
export interface OuterFold {
  fold: number;
  held: string[];
  n: number;
  positives: number;
  /** Per candidate, in grid order: its pooled inner out-of-fold figures. */
  inner: { candidate: string; precisionAtRecall90: number; threshold: number; auroc: number; counts: Counts }[];
  selected: string;
  /** The selected candidate's inner recall-0.90 threshold, floored to 4 decimals as train.ts floors the shipped one. */
  threshold: number;
  /** This fold's rows at `threshold`, scored by the selected candidate trained on the other three folds. */
  counts: Counts;
  /** The benign security-talk set at `threshold`, scored by the same model. */
  securityTalk: { n: number; flagged: number };
}

/** One candidate evaluated as train.ts evaluates a recipe: trained without each outer fold, the four folds' scores pooled. */
export interface NonNested {
  candidate: string;
  precisionAtRecall90: number;
  /** The highest threshold reaching recall 0.90 on the pooled scores, floored as train.ts floors it. */
  threshold: number;
  auroc: number;
  counts: Counts;
  perFoldCounts: Counts[];
  /** Per fold, the security-talk set flagged at `threshold`. */
  securityTalkFlagged: number[];
}

export interface NestedEval {
  command: string;
  date: string;
  runSeconds: number;
  machine: { cpu: string; cores: number; node: string; platform: string; loadAverageAtEnd: number[] };
  /** The shipped package (its manifest's held-out figures), and the grid candidate with its recipe and seed. */
  package: { name: string; version: string; modelSha256: string; precisionAtRecall90: number; auroc: number; candidate: string };
  data: { file: string; sha256: string; publicRows: number; attacks: number };
  /** Experiment variables of train.ts/recipe.ts set during the run (empty: 1.3.0's other settings). */
  environment: Record<string, string>;
  goal: { recall: number; minPrecision: number; maxSecurityTalkFpr: number };
  folds: string[][];
  seeds: { outer: string; inner: string; securityTalk: string };
  securityTalk: { family: string; n: number };
  selection: string;
  grid: Candidate[];
  outer: OuterFold[];
  nested: {
    /** The outer folds' scores pooled, each scored by its own selection: ranking quality, comparable to the manifest's precision at recall 0.90. */
    pooled: { n: number; positives: number; auroc: number; precisionAtRecall90: number; threshold: number; counts: Counts; perFoldCounts: Counts[] };
    /** Each outer fold at its inner threshold: the fully honest operating point. */
    atInnerThresholds: { counts: Counts; precision: number; recall: number; fpr: number };
    securityTalkFpr: { perFold: number[]; max: number };
  };
  /** Selection by a recipe's mean inner precision over the seeds (the way 1.3.0's settings were mostly compared), each seed's model scored. */
  recipeMeanRule: {
    selected: string[];
    perSeed: { seed: number; precisionAtRecall90: number; auroc: number; atInnerThresholds: { precision: number; recall: number }; securityTalkFprMax: number }[];
  };
  nonNested: NonNested[];
}

export function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

export function addCounts(cs: readonly Counts[]): Counts {
  return cs.reduce((a, c) => ({ tp: a.tp + c.tp, fp: a.fp + c.fp, tn: a.tn + c.tn, fn: a.fn + c.fn }), { tp: 0, fp: 0, tn: 0, fn: 0 });
}

/** Precision, recall and FPR of counts, rounded (0 when undefined, as train.ts reports them). */
export function rates(c: Counts): { precision: number; recall: number; fpr: number } {
  return {
    precision: round(c.tp / Math.max(c.tp + c.fp, 1)),
    recall: round(c.tp / Math.max(c.tp + c.fn, 1)),
    fpr: round(c.fp / Math.max(c.fp + c.tn, 1)),
  };
}

export const MARK_BEGIN = '<!-- nested-eval: generated from nested-eval.json by detectors/prompt-injection/nested-report.ts -->';
export const MARK_END = '<!-- /nested-eval -->';

/** A recipe in words. */
function describe(r: Recipe | undefined): string {
  if (!r) return 'not in the grid';
  return `head of ${r.hidden}, ${Math.round(r.truncate * 100)}% truncation, ${r.notices} workplace notices${r.jailbreaks ? `, ${r.jailbreaks} persona jailbreaks` : ''}`;
}

/** The model card's section on the nested evaluation, between its markers. */
export function nestedEvalSection(r: NestedEval): string {
  const n = r.nested;
  const g = r.goal;
  const talkMax = n.securityTalkFpr.max;
  const best = [...r.nonNested].sort((a, b) => b.precisionAtRecall90 - a.precisionAtRecall90)[0];
  const shipped = r.nonNested.find((c) => c.candidate === r.package.candidate);
  const fprMax = (c: NonNested) => round(Math.max(...c.securityTalkFlagged) / r.securityTalk.n);
  const met = (ok: boolean) => (ok ? 'met' : 'not met');
  const rankOk = n.pooled.precisionAtRecall90 >= g.minPrecision;
  const opOk = n.atInnerThresholds.precision >= g.minPrecision && n.atInnerThresholds.recall >= g.recall;
  const talkOk = talkMax <= g.maxSecurityTalkFpr;
  // All four outer models' security-talk prompts together (each at its own threshold).
  const talkPooled = round(r.outer.reduce((a, o) => a + o.securityTalk.flagged, 0) / r.outer.reduce((a, o) => a + o.securityTalk.n, 0));
  const gap = round(r.package.precisionAtRecall90 - n.pooled.precisionAtRecall90);
  const nonNestedRows = r.nonNested
    .map((c) => {
      const cand = r.grid.find((x) => x.name === c.candidate)!;
      const times = r.outer.filter((o) => o.selected === c.candidate).length;
      return `| ${c.candidate}${cand.package ? ` (${cand.package}'s recipe)` : ''} | ${c.precisionAtRecall90} | ${c.counts.fp} | ${c.auroc} | ${fprMax(c)} | ${times || ''} |`;
    })
    .join('\n');
  const outerRows = r.outer
    .map((o) => {
      const inner = o.inner.find((x) => x.candidate === o.selected)!;
      const rt = rates(o.counts);
      return `| ${o.fold + 1} | ${o.n} (${o.positives} attacks) | ${o.selected} | ${inner.precisionAtRecall90} | ${o.threshold} | ${o.positives ? rt.precision : '–'} | ${o.positives ? rt.recall : '–'} | ${o.counts.fp} of ${o.counts.fp + o.counts.tn} | ${round(o.securityTalk.flagged / o.securityTalk.n)} |`;
    })
    .join('\n');
  const perSeed = r.recipeMeanRule.perSeed
    .map((s) => `seed ${s.seed}: ${s.precisionAtRecall90} (at the inner thresholds ${s.atInnerThresholds.precision} / ${s.atInnerThresholds.recall}, security talk ≤ ${s.securityTalkFprMax})`)
    .join('; ');
  return `${MARK_BEGIN}
### Nested evaluation of the recipe choice (issue 5)

The held-out figures above are optimistic: ${r.package.version}'s recipe (${describe(r.grid.find((c) => c.name === r.package.candidate)?.recipe)}) and its seed
were chosen among many runs on these same pooled held-out scores (about 25 for 1.3.0's,
a dozen more for 1.4.0's), and the threshold on them too. \`${r.command}\`
(detectors/prompt-injection/nested-eval.ts; every figure below is in nested-eval.json)
evaluates that selection procedure instead. For each source fold k, ${r.grid.length} candidates
(${new Set(r.grid.map((c) => c.name.split('/')[0])).size} recipes × seeds ${[...new Set(r.grid.map((c) => c.recipe.seed))].join(', ')}) are compared by leave-one-fold-out
over the other three folds only; the one with the best pooled inner precision at recall
0.90 is selected, with the threshold that gives recall 0.90 on those inner scores; it is
then trained on the three folds (and its own data) and scores fold k, which no choice
has seen. Data: ${r.data.publicRows} public rows (${r.data.file}, sha256 ${r.data.sha256.slice(0, 12)}…); run of ${r.date.slice(0, 10)}, ${Math.round(r.runSeconds / 60)} min on ${r.machine.cores} cores.

| estimate | precision at recall 0.90, pooled held-out | AUROC | security-talk FPR (worst fold) |
|---|---|---|---|
| shipped ${r.package.version}, selected on these folds (manifest) | ${r.package.precisionAtRecall90} | ${r.package.auroc} | ${shipped ? fprMax(shipped) : '–'} |
| best of the ${r.grid.length} candidates on the four folds (selection on the test folds) | ${best.precisionAtRecall90} (${best.candidate}) | ${best.auroc} | ${fprMax(best)} |
| **nested**: each fold scored by the candidate its inner loop chose | **${n.pooled.precisionAtRecall90}** | ${n.pooled.auroc} | ${talkMax} |

The nested pooled figure still chooses its threshold on the pooled outer scores (as the
manifest's does), so it measures ranking. The fully honest operating point scores each
outer fold at the threshold its inner loop chose: **precision ${n.atInnerThresholds.precision}, recall
${n.atInnerThresholds.recall}, FPR ${n.atInnerThresholds.fpr}** (${n.atInnerThresholds.counts.tp} of ${n.atInnerThresholds.counts.tp + n.atInnerThresholds.counts.fn} attacks flagged, ${n.atInnerThresholds.counts.fp} false positives).

| outer fold | rows | selected | its inner precision at recall 0.90 | inner threshold | precision | recall | false positives | security-talk FPR |
|---|---|---|---|---|---|---|---|---|
${outerRows}

Issue 5's goal by the nested estimate: precision ≥ ${g.minPrecision} at recall ≥ ${g.recall} on held-out
sources is **${met(rankOk)}** as ranking (${n.pooled.precisionAtRecall90}) and **${met(opOk)}** at the thresholds the
procedure would ship (precision ${n.atInnerThresholds.precision}, recall ${n.atInnerThresholds.recall}); FPR ≤ ${g.maxSecurityTalkFpr * 100}% on benign security
talk is **${met(talkOk)}** by the worst outer model (${talkMax}; ${met(talkPooled <= g.maxSecurityTalkFpr)} by the four together, ${talkPooled}). The shipped package's ${r.package.precisionAtRecall90} is
${gap >= 0 ? `${gap} above` : `${-gap} below`} what the procedure that chose it achieves on folds it did not choose on.

What the nested figures do not undo: the grid holds the recipes on 1.3.0's and 1.4.0's
paths, not all of the runs tried (round-4 data, word 3-grams, soups, seed ensembles,
...); our generators (rounds 2–4, the notices) were written after reading held-out false
positives, which no loop can take back (the persona jailbreaks were written from the
genre's well-known moves, without reading held-out rows); the inner models train on two folds, not three; and one run of ${r.outer.length} outer folds
is itself noisy (the same recipe moves by ±0.03 between seeds, table below). The inner
thresholds transfer badly between folds, as the cross-fold thresholds above showed: an
inner pool with fold 1's in-the-wild jailbreaks, which models trained without them score
low, needs a low threshold to reach recall 0.90.

Choosing a recipe by its mean inner precision over the seeds instead (how most of 1.3.0's
and 1.4.0's settings were compared) selects ${r.recipeMeanRule.selected.join(', ')} for folds 1–4; the
pooled outer precision at recall 0.90 per seed: ${perSeed}.

For reference, every candidate evaluated as train.ts evaluates a recipe (trained without
each fold, the four folds pooled; its threshold and security-talk FPR chosen and measured
as train.ts does), and how many outer folds selected it:

| candidate | precision at recall 0.90 | false positives at it | AUROC | security-talk FPR (worst fold) | selected by outer folds |
|---|---|---|---|---|---|
${nonNestedRows}
${MARK_END}`;
}
