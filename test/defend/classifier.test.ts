import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { argmax, defendRow, softmax } from '../../src/defend/classifier.js';
import { classifierPolicySchema, type ClassifierPolicy } from '../../src/defend/config.js';
import { normalStream } from '../../src/defend/noise.js';

const policy = (p: object): ClassifierPolicy => classifierPolicySchema.parse({ outputs: [{ name: 'p' }], ...p });
const seeded = (n: number) => normalStream(Buffer.alloc(32, n));

test('top-k keeps the k most likely classes and zeroes the rest', () => {
  const out = defendRow([0.1, 0.6, 0.05, 0.25], 1, policy({ topK: 2 }));
  assert.deepEqual(out, [0, 0.6, 0, 0.25]);
});

test('rounding keeps d decimals', () => {
  assert.deepEqual(defendRow([0.123456, 0.876544], 1, policy({ decimals: 2 })), [0.12, 0.88]);
});

test('rounding that would tie the top class with an earlier one lifts the top class one unit', () => {
  // 0.4951 and 0.5049 both round to 0.5; class 1 must stay the first maximum.
  const out = defendRow([0.4951, 0.5049], 1, policy({ decimals: 1 }));
  assert.equal(argmax(out), 1);
  assert.deepEqual(out, [0.5, 0.6]);
});

test('label-only returns a one-hot vector of the top class', () => {
  assert.deepEqual(defendRow([0.2, 0.3, 0.5], 2, policy({ labelOnly: true, decimals: 3, topK: 2 })), [0, 0, 1]);
});

test('noise changes the probabilities, keeps a distribution, and is a function of the seed', () => {
  const p = [0.02, 0.9, 0.08];
  const a = defendRow(p, 1, policy({ noise: { scale: 0.2 } }), seeded(1));
  const b = defendRow(p, 1, policy({ noise: { scale: 0.2 } }), seeded(1));
  const c = defendRow(p, 1, policy({ noise: { scale: 0.2 } }), seeded(2));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notDeepEqual(a, p);
  assert.ok(Math.abs(a.reduce((x, y) => x + y, 0) - 1) < 1e-9);
  assert.equal(argmax(a), 1);
});

test('softmax of huge logits stays finite', () => {
  const s = softmax([1e300, -1e300, 0]);
  assert.deepEqual(s, [1, 0, 0]);
});

// The property the issue asks for: whatever the scores and whatever the policy, the
// client's top-1 label is the model's.
const policies = fc.record(
  {
    topK: fc.integer({ min: 1, max: 12 }),
    decimals: fc.integer({ min: 0, max: 8 }),
    labelOnly: fc.boolean(),
    noise: fc.record({ scale: fc.double({ min: 1e-6, max: 1, noNaN: true }) }),
  },
  { requiredKeys: [] },
);

test('no policy ever changes the top-1 label of probabilities (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 }),
      policies,
      fc.integer(),
      (row, p, seed) => {
        const label = argmax(row);
        const out = defendRow(row, label, policy(p), seeded(seed & 0xff));
        assert.equal(out.length, row.length);
        assert.equal(argmax(out), label);
        for (const v of out) assert.ok(Number.isFinite(v));
      },
    ),
    { numRuns: 3000 },
  );
});

test('no policy ever changes the top-1 label of logits (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 12 }),
      policies,
      fc.integer(),
      (logits, p, seed) => {
        // The label is the logits' argmax even when softmax rounds two logits to one value.
        const label = argmax(logits);
        const out = defendRow(softmax(logits), label, policy(p), seeded(seed & 0xff));
        assert.equal(argmax(out), label);
      },
    ),
    { numRuns: 3000 },
  );
});
