import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalQuantile, normalUpperTail, shapiroWilk } from '../../../src/detect/stream/shapiro-wilk.js';
import { Rng } from '../../../src/ml/rng.js';

// Reference values from SciPy 1.17.1, scipy.stats.shapiro (the same AS R94 algorithm).
const CASES: { x: number[]; w: number; p: number }[] = [
  { x: [148, 154, 158, 160, 161, 162, 166, 170, 182, 195, 236], w: 0.788815, p: 0.006704 },
  { x: [1, 2, 4, 8], w: 0.920203, p: 0.5381 },
  { x: [3, 1, 4, 1, 5, 9, 2, 6], w: 0.927724, p: 0.4956 },
];

describe('shapiroWilk', () => {
  for (const c of CASES) {
    it(`matches SciPy for n = ${c.x.length}`, () => {
      const r = shapiroWilk(c.x);
      assert.ok(Math.abs(r.w - c.w) < 1e-6, `W ${r.w} vs ${c.w}`);
      assert.ok(Math.abs(r.p - c.p) / c.p < 1e-3, `p ${r.p} vs ${c.p}`);
    });
  }

  it('finds a normal sample normal and a log-normal or bimodal one not', () => {
    const rng = new Rng(3);
    const normal = Array.from({ length: 200 }, () => rng.normal(5, 2));
    const logNormal = Array.from({ length: 200 }, () => Math.exp(rng.normal()));
    const bimodal = Array.from({ length: 200 }, (_, i) => (i < 150 ? rng.normal(6, 1) : rng.normal(1.5, 0.3)));
    assert.ok(shapiroWilk(normal).w > 0.98 && shapiroWilk(normal).p > 0.05);
    assert.ok(shapiroWilk(logNormal).w < 0.85 && shapiroWilk(logNormal).p < 1e-6);
    assert.ok(shapiroWilk(bimodal).w < 0.9);
  });

  it('does not depend on order, location or scale, and leaves its input alone', () => {
    const x = [3.2, 1.1, 7.4, 2.2, 5.9, 4.4, 2.8, 6.1, 0.3, 3.3, 4.9, 5.0];
    const copy = [...x];
    const a = shapiroWilk(x);
    assert.deepEqual(x, copy);
    const b = shapiroWilk([...x].reverse().map((v) => 10 + 3 * v));
    assert.ok(Math.abs(a.w - b.w) < 1e-12);
  });

  it('treats a sample without spread as nothing to test, and refuses sizes outside [3, 5000]', () => {
    assert.deepEqual(shapiroWilk([2, 2, 2, 2]), { w: 1, p: 1 });
    assert.throws(() => shapiroWilk([1, 2]), RangeError);
  });
});

describe('normal distribution helpers', () => {
  it('inverts the normal CDF', () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-12);
    assert.ok(Math.abs(normalQuantile(1e-10) - -6.361340902404056) < 1e-9);
    for (const p of [0.001, 0.2, 0.5, 0.8, 0.999]) assert.ok(Math.abs(1 - normalUpperTail(normalQuantile(p)) - p) < 1e-6);
  });
});
