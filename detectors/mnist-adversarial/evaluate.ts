/**
 * Evaluation of a tensor detector: per attack (and epsilon), the AUROC against the clean
 * evaluation digits, the true-positive rate at 1% false-positive rate on them, and what
 * the detector does at its shipped threshold. The scorer is a function, so the same code
 * measures the TypeScript model in training and the signed ONNX package in the gateway's
 * runtime.
 */
import type { JWK } from 'jose';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import { loadPackage } from '../../src/detect/package.js';
import { DetectorSessions } from '../../src/detect/sessions.js';
import { trustedKeyFromJwk } from '../../src/detect/signing.js';
import { auroc, tprAtFpr } from '../../src/ml/metrics.js';
import type { EvaluationAttack } from './material.js';

/** Scores a batch [n, 784]: one score per row, higher is more suspicious. */
export type BatchScorer = (x: Float32Array, n: number) => Float32Array | Promise<Float32Array>;

/** The figures of one attack. */
export interface AttackFigures {
  attack: string;
  family: string;
  eps?: number;
  heldOutFamily: boolean;
  rows: number;
  /** Share of the inputs the demo model misclassifies (attacks only). */
  attackSuccess?: number;
  auroc: number;
  /** TPR at 1% FPR on the clean evaluation digits (threshold chosen on them: an upper bound of what a calibrated threshold gets). */
  tprAt1pctFpr: number;
  /** Share flagged at the shipped threshold. */
  detectedAtThreshold: number;
}

/** Everything measured. */
export interface TensorEvaluation {
  threshold: number;
  /** Share of clean calibration digits at or over the threshold. */
  calibrationFlagged: number;
  /** Share of clean evaluation digits at or over the threshold (the false-positive rate in use). */
  cleanFlagged: number;
  cleanRows: number;
  attacks: AttackFigures[];
  /** The attack with the lowest AUROC (ties: lowest TPR at 1% FPR). */
  worst: string;
}

/**
 * The lowest threshold that flags at most `maxShare` of `scores` (clean calibration
 * scores): the score just above the ⌊maxShare·n⌋-th highest.
 */
export function calibrateThreshold(scores: ArrayLike<number>, maxShare: number): number {
  const sorted = Float64Array.from(scores).sort();
  const allowed = Math.floor(maxShare * sorted.length);
  const boundary = sorted[sorted.length - 1 - allowed];
  // Strictly above the boundary score, so that score itself is not flagged (ties included).
  return Math.min(1, nextUp(boundary));
}

function nextUp(v: number): number {
  // The next float32 above v: thresholds are compared with float32 model outputs.
  const f = new Float32Array([v]);
  const i = new Int32Array(f.buffer);
  i[0] += v >= 0 ? 1 : -1;
  return f[0];
}

function share(scores: ArrayLike<number>, threshold: number): number {
  let c = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] >= threshold) c++;
  return c / scores.length;
}

function attackName(a: { attack: string; eps?: number }): string {
  return a.eps === undefined ? a.attack : `${a.attack} eps ${a.eps}`;
}

/** Measures `score` on the clean evaluation digits and every attack, at `threshold`. */
export async function evaluateTensorDetector(
  score: BatchScorer,
  threshold: number,
  calibration: { x: Float32Array; n: number },
  clean: { x: Float32Array; n: number },
  suite: readonly EvaluationAttack[],
): Promise<TensorEvaluation> {
  const calScores = await score(calibration.x, calibration.n);
  const cleanScores = Array.from(await score(clean.x, clean.n));
  const attacks: AttackFigures[] = [];
  for (const a of suite) {
    const s = Array.from(await score(a.x, a.n));
    const scores = [...cleanScores, ...s];
    const labels = [...cleanScores.map(() => 0), ...s.map(() => 1)];
    attacks.push({
      attack: a.attack,
      family: a.family,
      eps: a.eps,
      heldOutFamily: a.heldOutFamily,
      rows: a.n,
      attackSuccess: a.success,
      auroc: auroc(scores, labels),
      tprAt1pctFpr: tprAtFpr(scores, labels, 0.01).tpr,
      detectedAtThreshold: share(s, threshold),
    });
  }
  const worst = [...attacks].sort((a, b) => a.auroc - b.auroc || a.tprAt1pctFpr - b.tprAt1pctFpr)[0];
  return {
    threshold,
    calibrationFlagged: share(calScores, threshold),
    cleanFlagged: share(cleanScores, threshold),
    cleanRows: clean.n,
    attacks,
    worst: worst ? attackName(worst) : '',
  };
}

/** The figures as a markdown table (model card and bench report). */
export function tensorEvaluationMarkdown(e: TensorEvaluation): string {
  const pct = (v: number | undefined) => (v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);
  const lines = [
    `Threshold ${e.threshold.toPrecision(6)}: ${pct(e.cleanFlagged)} of ${e.cleanRows} clean evaluation digits flagged ` +
      `(${pct(e.calibrationFlagged)} of the calibration digits it was set on). Worst caught: **${e.worst}**.`,
    '',
    '| attack | family | eps | held-out family | rows | attack success | AUROC | TPR @ 1% FPR | flagged at threshold |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const a of e.attacks) {
    lines.push(
      `| ${a.attack} | ${a.family} | ${a.eps ?? '–'} | ${a.heldOutFamily ? 'yes' : 'no'} | ${a.rows} | ${pct(a.attackSuccess)} | ${a.auroc.toFixed(4)} | ${pct(a.tprAt1pctFpr)} | ${pct(a.detectedAtThreshold)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A scorer over a package folder, through the gateway's own runtime: the package is
 * verified with `publicJwk` (signature, digest, featurizer) and scored by its ONNX
 * session. `close` releases the session.
 */
export async function packageScorer(dir: string, publicJwk: JWK): Promise<{ score: BatchScorer; threshold: number; close(): Promise<void> }> {
  const pkg = await loadPackage(dir, { trustedKeys: [await trustedKeyFromJwk(publicJwk)], featurizers: builtinFeaturizers() });
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  const width = (pkg.manifest.featurizer.params as { size: number }).size;
  return {
    threshold: pkg.manifest.threshold,
    async score(x, n) {
      const rows = Array.from({ length: n }, (_, i) => x.subarray(i * width, (i + 1) * width));
      return Float32Array.from(await lease.engine.score(rows));
    },
    async close() {
      lease.release();
      await sessions.close();
    },
  };
}
