import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { gaussianNoise, inverted, shifted, uniformNoise } from '../../detectors/attacks/ood.js';

describe('out-of-distribution inputs', () => {
  const digits = takeSubset(loadMnist().test, 20, 2);

  it('draws noise reproducibly in [0, 1]', () => {
    assert.deepEqual(uniformNoise(3, 1), uniformNoise(3, 1));
    assert.notDeepEqual(uniformNoise(3, 1), uniformNoise(3, 2));
    for (const x of [uniformNoise(5, 1), gaussianNoise(5, 1)]) assert.ok(x.every((v) => v >= 0 && v <= 1));
  });

  it('inverts digits', () => {
    const inv = inverted(digits.x);
    assert.ok(inv.every((v, i) => Math.abs(v + digits.x[i] - 1) < 1e-6));
  });

  it('moves each digit by at least minShift pixels: its ink centre moves, its ink does not grow', () => {
    const out = shifted(digits.x, digits.n, 7, 5, 8);
    for (let i = 0; i < digits.n; i++) {
      const centre = (x: Float32Array) => {
        let m = 0;
        let r = 0;
        let c = 0;
        for (let p = 0; p < 784; p++) {
          const v = x[i * 784 + p];
          m += v;
          r += v * Math.floor(p / 28);
          c += v * (p % 28);
        }
        return { m, r: r / m, c: c / m };
      };
      const a = centre(digits.x);
      const b = centre(out);
      assert.ok(b.m <= a.m + 1e-3);
      if (b.m > 0.2 * a.m) assert.ok(Math.max(Math.abs(a.r - b.r), Math.abs(a.c - b.c)) >= 4, `digit ${i} barely moved`);
    }
  });
});
