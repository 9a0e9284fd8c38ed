import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSketch, encodeSketch, project, sketchDistance, sketchNorm, sketchOf } from '../../../src/detect/stream/sketch.js';
import { Rng } from '../../../src/ml/rng.js';

function l2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

describe('tensor sketches', () => {
  it('estimate L2 distances between inputs within about 20% at 64 dims', () => {
    const rng = new Rng(1);
    const ratios: number[] = [];
    for (let t = 0; t < 200; t++) {
      const a = Float32Array.from({ length: 784 }, () => (rng.float() < 0.2 ? rng.float() : 0));
      const b = Float32Array.from({ length: 784 }, () => (rng.float() < 0.2 ? rng.float() : 0));
      ratios.push(sketchDistance(sketchOf(a, 64, 7), sketchOf(b, 64, 7)) / l2(a, b));
    }
    ratios.sort((x, y) => x - y);
    const median = ratios[100];
    assert.ok(median > 0.9 && median < 1.1, `median ratio ${median}`);
    assert.ok(ratios[10] > 0.7 && ratios[189] < 1.3, `10-90% ${ratios[10]} ${ratios[189]}`);
  });

  it('are a pure function of the input and the seed, and the seed matters', () => {
    const x = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    assert.deepEqual(project(x, 16, 3), project(x, 16, 3));
    assert.notDeepEqual(project(x, 16, 3), project(x, 16, 4));
  });

  it('survive the text form the state store keeps, and refuse text of another size', () => {
    const s = sketchOf(Float32Array.from({ length: 784 }, (_, i) => (i % 11) / 10), 64, 9);
    const back = decodeSketch(encodeSketch(s), 64)!;
    assert.deepEqual(back.codes, s.codes);
    assert.equal(back.scale, Math.fround(s.scale));
    assert.ok(Math.abs(sketchNorm(back) - sketchNorm(s)) < 1e-5);
    assert.equal(decodeSketch(encodeSketch(s), 32), undefined);
    assert.equal(decodeSketch('not base64 at all!', 64), undefined);
  });

  it('sketch an all-zero input to zero (distance to itself 0)', () => {
    const z = sketchOf(new Float32Array(784), 64, 1);
    assert.equal(z.scale, 0);
    assert.equal(sketchDistance(z, z), 0);
  });
});
