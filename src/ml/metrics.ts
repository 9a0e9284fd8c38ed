/**
 * Evaluation metrics for binary detectors and classifiers. Scores are "higher means more
 * likely positive"; labels are 1 (positive) or 0 (negative). A prediction is positive when
 * its score is >= the threshold.
 */

/** One operating point of a ROC curve. */
export interface RocPoint {
  /** Scores >= threshold are called positive. +Infinity is the "call nothing positive" point. */
  threshold: number;
  fpr: number;
  tpr: number;
}

/** Counts and rates at one threshold. */
export interface ConfusionAt {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** tp / (tp + fp); NaN when nothing is called positive. */
  precision: number;
  /** tp / (tp + fn), the TPR; NaN when there are no positives. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0, NaN when either is NaN. */
  f1: number;
  /** fp / (fp + tn); NaN when there are no negatives. */
  fpr: number;
  accuracy: number;
}

function checkPair(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new RangeError(`metrics: ${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new RangeError(`metrics: label ${labels[i]} at ${i} is not 0 or 1`);
    if (Number.isNaN(scores[i])) throw new RangeError(`metrics: score at ${i} is NaN`);
  }
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, ties counting one half (the Mann-Whitney U statistic). NaN when either class
 * is empty.
 *
 * @example
 * auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]); // 1
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(scores, labels);
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let nPos = 0;
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // 1-based average rank of the tie group
    for (let t = i; t <= j; t++) {
      if (labels[order[t]] === 1) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * The ROC curve, one point per distinct score from the highest down, starting at
 * (fpr 0, tpr 0, threshold +Infinity).
 */
export function rocCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): RocPoint[] {
  checkPair(scores, labels);
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += labels[i];
  const nNeg = n - nPos;
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < n; ) {
    const s = scores[order[i]];
    while (i < n && scores[order[i]] === s) {
      if (labels[order[i]] === 1) tp++;
      else fp++;
      i++;
    }
    points.push({ threshold: s, fpr: nNeg ? fp / nNeg : NaN, tpr: nPos ? tp / nPos : NaN });
  }
  return points;
}

/**
 * The highest TPR whose FPR is at most `maxFpr`, with the threshold that reaches it (the
 * highest such threshold on ties). Use it both to report "TPR at 1% FPR" and to pick a
 * detector's operating threshold on held-out benign data.
 */
export function tprAtFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, maxFpr: number): RocPoint {
  if (!(maxFpr >= 0 && maxFpr <= 1)) throw new RangeError('tprAtFpr: maxFpr must be in [0, 1]');
  let best: RocPoint = { threshold: Infinity, fpr: 0, tpr: 0 };
  for (const p of rocCurve(scores, labels)) {
    if (p.fpr <= maxFpr && p.tpr > best.tpr) best = p;
  }
  return best;
}

/** Confusion counts, precision, recall, F1, FPR and accuracy when scores >= threshold are positive. */
export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ConfusionAt {
  checkPair(scores, labels);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i] === 1) {
      if (predicted) tp++;
      else fn++;
    } else if (predicted) fp++;
    else tn++;
  }
  const precision = tp + fp ? tp / (tp + fp) : NaN;
  const recall = tp + fn ? tp / (tp + fn) : NaN;
  const f1 = Number.isNaN(precision) || Number.isNaN(recall) ? NaN : precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const total = scores.length;
  return {
    threshold,
    tp,
    fp,
    tn,
    fn,
    precision,
    recall,
    f1,
    fpr: fp + tn ? fp / (fp + tn) : NaN,
    accuracy: total ? (tp + tn) / total : NaN,
  };
}

/** Fraction of positions where `predicted` equals `labels` (any integer classes). */
export function accuracy(predicted: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predicted.length !== labels.length) throw new RangeError(`accuracy: ${predicted.length} predictions but ${labels.length} labels`);
  if (labels.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}
