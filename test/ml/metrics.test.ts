import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, auroc, confusionAt, rocCurve, tprAtFpr } from '../../src/ml/metrics.js';
import { Rng } from '../../src/ml/rng.js';

describe('auroc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 for all ties', () => {
    assert.equal(auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0]), 1);
    assert.equal(auroc([0.9, 0.8, 0.3, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auroc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]), 0.5);
  });

  it('counts pairs on a small hand-worked case, ties as one half', () => {
    // positives 0.8, 0.4; negatives 0.6, 0.4, 0.2. Pairs (pos > neg): 0.8 beats 3;
    // 0.4 beats 0.2, ties 0.4 (half), loses to 0.6: (3 + 1.5) / 6.
    assert.equal(auroc([0.8, 0.4, 0.6, 0.4, 0.2], [1, 1, 0, 0, 0]), 4.5 / 6);
  });

  it('agrees with a brute-force count of pairs on random data', () => {
    const rng = new Rng(3);
    const scores = Array.from({ length: 200 }, () => Math.round(rng.float() * 20) / 20);
    const labels = scores.map((s) => (rng.float() < 0.3 + 0.4 * s ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < 200; i++) {
      for (let j = 0; j < 200; j++) {
        if (labels[i] !== 1 || labels[j] !== 0) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    assert.ok(Math.abs(auroc(scores, labels) - wins / pairs) < 1e-12);
  });

  it('is NaN with one class only and rejects bad labels', () => {
    assert.ok(Number.isNaN(auroc([0.1, 0.2], [1, 1])));
    assert.throws(() => auroc([0.1], [2]), /not 0 or 1/);
    assert.throws(() => auroc([0.1, 0.2], [1]), /labels/);
  });
});

describe('rocCurve and tprAtFpr', () => {
  const scores = [0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
  const labels = [1, 1, 0, 1, 1, 0, 0, 1, 0, 0];

  it('walks from (0,0) to (1,1) one distinct score at a time', () => {
    const roc = rocCurve(scores, labels);
    assert.equal(roc.length, 11);
    assert.deepEqual(roc[0], { threshold: Infinity, fpr: 0, tpr: 0 });
    assert.deepEqual(roc[3], { threshold: 0.8, fpr: 0.2, tpr: 0.4 });
    assert.deepEqual(roc[10], { threshold: 0.1, fpr: 1, tpr: 1 });
  });

  it('finds the best TPR within an FPR budget, with its threshold', () => {
    assert.deepEqual(tprAtFpr(scores, labels, 0), { threshold: 0.9, fpr: 0, tpr: 0.4 });
    assert.deepEqual(tprAtFpr(scores, labels, 0.2), { threshold: 0.6, fpr: 0.2, tpr: 0.8 });
    assert.deepEqual(tprAtFpr(scores, labels, 1), { threshold: 0.3, fpr: 0.6, tpr: 1 });
  });
});

describe('confusionAt and accuracy', () => {
  it('computes precision, recall, F1 and FPR with scores >= threshold positive', () => {
    const c = confusionAt([0.9, 0.6, 0.6, 0.2, 0.1], [1, 1, 0, 1, 0], 0.6);
    assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [2, 1, 1, 1]);
    assert.equal(c.precision, 2 / 3);
    assert.equal(c.recall, 2 / 3);
    assert.ok(Math.abs(c.f1 - 2 / 3) < 1e-12);
    assert.equal(c.fpr, 0.5);
    assert.equal(c.accuracy, 0.6);
    assert.ok(Number.isNaN(confusionAt([0.1], [1], 0.5).precision));
  });

  it('accuracy compares class labels', () => {
    assert.equal(accuracy([1, 2, 3, 4], Uint8Array.from([1, 2, 0, 4])), 0.75);
  });
});
