import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/state/memory.js';

test('MemoryStore stays within maxKeys under a flood of new keys, dropping the oldest first', async () => {
  const s = new MemoryStore(1000);
  for (let i = 0; i < 5000; i++) await s.set(`k${i}`, String(i), 60_000);
  assert.ok(s.size <= 1000 && s.size >= 900, `size ${s.size}`);
  assert.equal(await s.get('k0'), undefined);
  assert.equal(await s.get('k4999'), '4999');
  // A key written again moves to the back and survives the next eviction.
  await s.set('k4000', 'again', 60_000);
  for (let i = 5000; i < 5200; i++) await s.set(`k${i}`, String(i), 60_000);
  assert.equal(await s.get('k4000'), 'again');
});
