/**
 * A flood of distinct keys (one per spoofed address) must not grow memory without
 * bound: a million keys through the limit stage, and the heap measured after a full
 * GC in a child process (--expose-gc).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BoundedRateLimiterMemory } from '../../src/limits/bounded-memory.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// About 5 s of CPU; the timeout is generous because the test machine is shared.
test('a million distinct keys: the counter holds at most maxKeys, and the heap stays bounded', { timeout: 180_000 }, async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=512', '--import', 'tsx', 'test/limits/fixtures/million-keys.ts', '1000000', '100000'],
    { cwd: ROOT },
  );
  const r = JSON.parse(stdout) as { heapMB: number; sizes: number[]; refused: number };
  for (const size of r.sizes) assert.ok(size >= 90_000 && size <= 100_000, `counter holds ${size} keys`);
  assert.equal(r.refused, 0);
  // 100k keys at ~250-300 bytes each is ~30 MB; unbounded, a million keys would be
  // ~250 MB (~500 MB with the library's own memory store, which keeps a timer per key).
  assert.ok(r.heapMB < 60, `heap grew by ${r.heapMB} MB`);
});

test('the bounded store is the one the library uses: expiry and the bound hold through consume', async () => {
  const l = new BoundedRateLimiterMemory({ points: 2, duration: 1, maxKeys: 3 });
  await l.consume('a');
  await l.consume('a');
  await assert.rejects(l.consume('a'), (res: { msBeforeNext: number }) => res.msBeforeNext > 0);
  for (const k of ['b', 'c', 'd']) await l.consume(k);
  // Past the bound the oldest go ('a' first), down to 90% of it.
  assert.ok(l.storage.size <= 3);
  assert.equal(await l.get('a'), null);
  assert.equal((await l.consume('a')).consumedPoints, 1);
  // Expired records are dropped on read.
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(await l.get('d'), null);
});
