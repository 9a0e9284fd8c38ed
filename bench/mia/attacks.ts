/**
 * Membership-inference attacks over the probability vectors a classifier returns. Every
 * attack turns one answer (and the true label, which a membership attacker holds for the
 * record it asks about) into a score, higher meaning "member"; the metrics compare the
 * scores of members and non-members.
 */
import { auroc, rocCurve, tprAtFpr } from '../../src/ml/metrics.js';
import { Mlp } from '../../src/ml/mlp.js';
import { trainMlp } from '../../src/ml/train.js';

/** Row-major [n, classes] probabilities with their true labels. */
export interface Answers {
  probs: Float64Array;
  labels: ArrayLike<number>;
  n: number;
  classes: number;
}

export interface AttackMetrics {
  auc: number;
  /** Best (TPR + TNR) / 2 over all thresholds: what an attacker who knew the best threshold would get. */
  balancedAccuracy: number;
  tprAt1Fpr: number;
}

// Rounding and top-k release exact zeros; the attacks take logs.
const EPS = 1e-12;
const log = (x: number) => Math.log(Math.max(x, EPS));

/**
 * log p_y, computed from the other classes' mass when p_y is near 1: a float32 p_y of a
 * confident answer is exactly 1, but the other classes still hold its loss (1e-20 is a
 * float32). This is what a careful attacker reads out of a softmax answer.
 */
export function logTrueClass(a: Answers, i: number): number {
  const y = a.labels[i];
  let rest = 0;
  let sum = 0;
  for (let c = 0; c < a.classes; c++) {
    const p = a.probs[i * a.classes + c];
    sum += p;
    if (c !== y) rest += p;
  }
  // Only a whole distribution says 1 - p_y through the rest (top-k zeroes part of it).
  const whole = Math.abs(sum - 1) < 1e-3;
  return whole && rest < 0.5 ? Math.log1p(-Math.min(rest, 1 - EPS)) : log(a.probs[i * a.classes + y]);
}

/** Yeom et al. (2018): a member's loss is low. Score: log p_y (minus the cross-entropy loss). */
export function thresholdScores(a: Answers): Float64Array {
  const s = new Float64Array(a.n);
  for (let i = 0; i < a.n; i++) s[i] = logTrueClass(a, i);
  return s;
}

/**
 * Song and Mittal (2021), modified entropy: Mentr = -(1 - p_y) log p_y - sum_{i != y} p_i
 * log(1 - p_i), low for members (confident and right). Score: -Mentr.
 */
export function entropyScores(a: Answers): Float64Array {
  const s = new Float64Array(a.n);
  for (let i = 0; i < a.n; i++) {
    const y = a.labels[i];
    const logPy = logTrueClass(a, i);
    // 1 - p_y from the same precise log, so that confident answers keep their order.
    let m = -(-Math.expm1(logPy)) * logPy;
    for (let c = 0; c < a.classes; c++) {
      if (c === y) continue;
      const p = a.probs[i * a.classes + c];
      m -= p * Math.log1p(-Math.min(p, 1 - EPS));
    }
    s[i] = -m;
  }
  return s;
}

/**
 * The features of the shadow-model attack (Shokri et al., 2017): the answer's probabilities
 * sorted from the largest, the log-probability of the true label, whether the top class
 * is the true label, and the log of the loss.
 */
export function shadowFeatures(a: Answers): Float32Array {
  const f = a.classes + 3;
  const out = new Float32Array(a.n * f);
  const row = new Array<number>(a.classes);
  for (let i = 0; i < a.n; i++) {
    let top = 0;
    for (let c = 0; c < a.classes; c++) {
      row[c] = a.probs[i * a.classes + c];
      if (row[c] > row[top]) top = c;
    }
    const y = a.labels[i];
    const sorted = [...row].sort((x, z) => z - x);
    for (let c = 0; c < a.classes; c++) out[i * f + c] = sorted[c];
    out[i * f + a.classes] = Math.max(logTrueClass(a, i), -60) / 10;
    out[i * f + a.classes + 1] = top === y ? 1 : 0;
    // The log of the loss spreads the tiny losses of confident answers apart.
    out[i * f + a.classes + 2] = Math.log(Math.max(-logTrueClass(a, i), 1e-30)) / 10;
  }
  return out;
}

/**
 * Trains the attack model on the shadow model's answers (members labelled 1) and returns
 * a scorer for the target's answers.
 */
export function trainShadowAttack(members: Answers, nonMembers: Answers, seed: number): (a: Answers) => Float64Array {
  const fm = shadowFeatures(members);
  const fn = shadowFeatures(nonMembers);
  const width = members.classes + 3;
  const n = members.n + nonMembers.n;
  const x = new Float32Array(n * width);
  x.set(fm, 0);
  x.set(fn, fm.length);
  const y = new Float32Array(n);
  y.fill(1, 0, members.n);
  const attack = Mlp.create({ sizes: [width, 32, 1], head: 'sigmoid', seed });
  trainMlp(attack, { x, y, n }, { epochs: 60, lr: 3e-3, batchSize: 64, seed });
  // The logit, not the sigmoid: float32 sigmoids of confident calls tie at exactly 1.
  return (a) => Float64Array.from(attack.forward(shadowFeatures(a), a.n));
}

/** Element-wise mean of repeated answers to the same queries. */
export function averageAnswers(repeats: Answers[]): Answers {
  const first = repeats[0];
  const probs = new Float64Array(first.probs.length);
  for (const r of repeats) for (let i = 0; i < probs.length; i++) probs[i] += r.probs[i];
  for (let i = 0; i < probs.length; i++) probs[i] /= repeats.length;
  return { ...first, probs };
}

/** AUC, best balanced accuracy and TPR at 1% FPR of member (1) vs non-member (0) scores. */
export function attackMetrics(memberScores: ArrayLike<number>, nonMemberScores: ArrayLike<number>): AttackMetrics {
  const scores = [...Array.from(memberScores), ...Array.from(nonMemberScores)];
  const labels = [...Array.from(memberScores, () => 1), ...Array.from(nonMemberScores, () => 0)];
  let balancedAccuracy = 0.5;
  for (const p of rocCurve(scores, labels)) balancedAccuracy = Math.max(balancedAccuracy, (p.tpr + 1 - p.fpr) / 2);
  return { auc: auroc(scores, labels), balancedAccuracy, tprAt1Fpr: tprAtFpr(scores, labels, 0.01).tpr };
}

/** Fraction of answers whose top class is the true label. */
export function top1Accuracy(a: Answers): number {
  let right = 0;
  for (let i = 0; i < a.n; i++) {
    let top = 0;
    for (let c = 1; c < a.classes; c++) if (a.probs[i * a.classes + c] > a.probs[i * a.classes + top]) top = c;
    if (top === a.labels[i]) right++;
  }
  return right / a.n;
}
