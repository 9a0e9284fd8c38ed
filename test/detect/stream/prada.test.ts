import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessStream, type StreamObservation, type StreamTestParams } from '../../../src/detect/stream/prada.js';
import { Rng } from '../../../src/ml/rng.js';

const P: StreamTestParams = { testWindow: 128, minQueries: 50, minW: 0.87, minCv: 0.1, burstWindow: 50, burstCount: 10 };
const obs = (dmins: number[], dup: (d: number) => boolean = () => false): StreamObservation[] => [
  { dup: false },
  ...dmins.map((d) => ({ dmin: d, dup: dup(d) })),
];

describe('assessStream', () => {
  const rng = new Rng(5);

  it('leaves a stream of normally spread distances alone', () => {
    const a = assessStream(obs(Array.from({ length: 200 }, () => rng.normal(6, 1.2))), P);
    assert.deepEqual(a.reasons, []);
    assert.ok(a.score < 0.5 && a.w! > 0.9 && a.cv! > 0.1);
  });

  it('flags a second tight mode of small distances (normality)', () => {
    const d = [...Array.from({ length: 64 }, () => rng.normal(7, 1)), ...Array.from({ length: 64 }, () => rng.normal(1.5, 0.2))];
    const a = assessStream(obs(d), { ...P, burstCount: 0 });
    assert.deepEqual(a.reasons, ['normality']);
    assert.ok(a.score >= 0.5 && a.w! <= 0.87);
  });

  it('flags distances that barely vary (concentration), which W alone cannot see', () => {
    const a = assessStream(obs(Array.from({ length: 100 }, () => rng.normal(10, 0.3))), P);
    assert.ok(a.reasons.includes('concentration'));
    assert.ok(a.cv! < 0.1);
  });

  it('flags a burst of near-duplicates at burstCount within burstWindow, and not one fewer', () => {
    const nine = obs([...Array.from({ length: 41 }, () => 5), ...Array.from({ length: 9 }, () => 0.1)], (d) => d < 1);
    const ten = obs([...Array.from({ length: 40 }, () => 5), ...Array.from({ length: 10 }, () => 0.1)], (d) => d < 1);
    const p = { ...P, minQueries: 1000 };
    assert.equal(assessStream(nine, p).dups, 9);
    assert.ok(assessStream(nine, p).score < 0.5);
    assert.deepEqual(assessStream(ten, p).reasons, ['burst']);
    assert.equal(assessStream(ten, p).score, 0.5);
  });

  it('gives no normality or concentration verdict before minQueries distances', () => {
    const a = assessStream(obs(Array.from({ length: 49 }, () => 10)), P);
    assert.equal(a.w, undefined);
    assert.equal(a.cv, undefined);
    assert.equal(a.score, 0);
  });
});
