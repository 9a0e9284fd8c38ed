import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalStream, resolveNoiseKey, rowInputs, rowSeed } from '../../src/defend/noise.js';
import { MemoryStore } from '../../src/state/memory.js';
import type { InferenceTensor } from '../../src/pipeline/types.js';

const img = (seed: number, n = 4) => Array.from({ length: n }, (_, i) => ((seed * 7 + i * 3) % 10) / 10);
const tensor = (rows: number[][], name = 'input'): InferenceTensor => ({ name, datatype: 'FP32', shape: [rows.length, rows[0].length], data: rows.flat() });

test('a row seeds from its own input: the same image alone or in any batch gets the same bytes', () => {
  const a = img(1);
  const alone = rowInputs([tensor([a])], [], 1)[0];
  const inBatch = rowInputs([tensor([img(2), a, img(3)])], [], 3)[1];
  const otherBatch = rowInputs([tensor([a, img(5)])], [], 2)[0];
  assert.deepEqual(alone, inBatch);
  assert.deepEqual(alone, otherBatch);
  assert.notDeepEqual(alone, rowInputs([tensor([img(2)])], [], 1)[0]);
});

test('changes the float32 model cannot see, and -0, do not buy a fresh seed', () => {
  const a = img(1);
  // float64 changes below float32 precision (on nonzero pixels: 1e-12 itself is a float32).
  const b = a.map((v) => (v === 0 ? v : v + 1e-12));
  b[0] = -0;
  a[0] = 0;
  assert.deepEqual(rowInputs([tensor([a])], [], 1)[0], rowInputs([tensor([b])], [], 1)[0]);
  const c = [...a];
  c[1] += 1e-3;
  assert.notDeepEqual(rowInputs([tensor([a])], [], 1)[0], rowInputs([tensor([c])], [], 1)[0]);
});

test('the seed depends on key, model, output and caller', () => {
  const input = rowInputs([tensor([img(1)])], [], 1)[0];
  const k1 = Buffer.alloc(32, 1);
  const base = rowSeed(k1, 'mnist', 'probabilities', 'alice', input);
  assert.deepEqual(base, rowSeed(k1, 'mnist', 'probabilities', 'alice', input));
  assert.notDeepEqual(base, rowSeed(Buffer.alloc(32, 2), 'mnist', 'probabilities', 'alice', input));
  assert.notDeepEqual(base, rowSeed(k1, 'mnist2', 'probabilities', 'alice', input));
  assert.notDeepEqual(base, rowSeed(k1, 'mnist', 'logits', 'alice', input));
  assert.notDeepEqual(base, rowSeed(k1, 'mnist', 'probabilities', 'bob', input));
});

test('the normal stream is standard normal', () => {
  const next = normalStream(Buffer.alloc(32, 9));
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const z = next();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.05);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});

test('without a configured key one is generated once and kept in the state store', async () => {
  const state = new MemoryStore();
  const k1 = await resolveNoiseKey(undefined, state);
  const k2 = await resolveNoiseKey(undefined, state);
  assert.equal(k1.length, 32);
  assert.deepEqual(k1, k2);
  assert.notDeepEqual(k1, await resolveNoiseKey(undefined, new MemoryStore()));
  assert.deepEqual(await resolveNoiseKey('x'.repeat(32), state), Buffer.from('x'.repeat(32)));
});
