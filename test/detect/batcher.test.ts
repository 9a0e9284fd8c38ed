import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroBatcher } from '../../src/detect/batcher.js';
import { builtinFeaturizers } from '../../src/detect/featurizers/registry.js';
import { loadPackage } from '../../src/detect/package.js';
import { DetectorSessions } from '../../src/detect/sessions.js';
import { readTrustedKey } from '../../src/detect/signing.js';
import { scoreTexts } from '../../src/detect/text-scorer.js';
import { ATTACK, BENIGN, DEMO_PUBLIC_KEY, PACKAGE_DIR } from './helpers.js';

test('concurrent submissions share runs and each caller gets its own results', async () => {
  const runs: number[][] = [];
  const b = new MicroBatcher<number, number>(async (rows) => {
    runs.push([...rows]);
    return rows.map((r) => r * 10);
  }, { maxSize: 8, maxWaitMs: 0 });
  const out = await Promise.all(Array.from({ length: 20 }, (_, i) => b.submit([i, i + 0.5])));
  out.forEach((o, i) => assert.deepEqual(o, [i * 10, (i + 0.5) * 10]));
  assert.ok(runs.length < 20, `${runs.length} runs for 20 submissions`);
  assert.ok(runs.every((r) => r.length <= 8));
  b.close();
});

test('a failing run rejects every caller of that batch, and the next batch runs', async () => {
  let fail = true;
  const b = new MicroBatcher<number, number>(async (rows) => {
    if (fail) throw new Error('model exploded');
    return rows;
  }, { maxSize: 4, maxWaitMs: 0 });
  const r = await Promise.allSettled([b.submit([1]), b.submit([2])]);
  assert.ok(r.every((x) => x.status === 'rejected' && /model exploded/.test(String(x.reason))));
  fail = false;
  assert.deepEqual(await b.submit([3]), [3]);
  b.close();
  await assert.rejects(b.submit([4]), /closed/);
});

test('with maxWait 0 a batch holds the rows submitted in the same callback and runs before the event loop turns', async () => {
  const events: string[] = [];
  const b = new MicroBatcher<number, number>(async (rows) => {
    events.push(`run ${rows.join(',')}`);
    return rows;
  }, { maxSize: 64, maxWaitMs: 0 });
  setImmediate(() => events.push('immediate'));
  const p = Promise.all([b.submit([1]), b.submit([2, 3]), Promise.resolve().then(() => b.submit([4]))]);
  await new Promise((r) => setImmediate(r));
  // Row 4 came in a later promise job, after the batch had closed: it ran next, still before the loop turned.
  assert.deepEqual(events, ['run 1,2,3', 'run 4', 'immediate']);
  assert.deepEqual(await p, [[1], [2, 3], [4]]);
  b.close();
});

test('a batch closes after maxWait when it does not fill', async () => {
  const sizes: number[] = [];
  const b = new MicroBatcher<number, number>(async (rows) => {
    sizes.push(rows.length);
    return rows;
  }, { maxSize: 100, maxWaitMs: 300 });
  const p1 = b.submit([1]);
  await new Promise((r) => setImmediate(r));
  const p2 = b.submit([2]);
  assert.deepEqual(await Promise.all([p1, p2]), [[1], [2]]);
  assert.deepEqual(sizes, [2]);
  b.close();
});

test('micro-batched ONNX runs return each caller its own score', async () => {
  const pkg = await loadPackage(PACKAGE_DIR, { trustedKeys: [await readTrustedKey(DEMO_PUBLIC_KEY)], featurizers: builtinFeaturizers() });
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  try {
    const texts = Array.from({ length: 40 }, (_, i) => (i % 2 ? `${ATTACK} (${i})` : `${BENIGN} Number ${i}.`.repeat(1 + (i % 5))));
    const opts = { threshold: 0.5, earlyExit: false };
    // Alone: one caller at a time.
    const alone: number[] = [];
    for (const t of texts) alone.push((await scoreTexts(lease.engine, [t], opts)).score);
    const runsBefore = lease.engine.batcher.stats.runs;
    const together = await Promise.all(texts.map((t) => scoreTexts(lease.engine, [t], opts)));
    const runs = lease.engine.batcher.stats.runs - runsBefore;
    together.forEach((r, i) => assert.ok(Math.abs(r.score - alone[i]) < 1e-5, `text ${i}: ${r.score} vs ${alone[i]}`));
    assert.ok(runs < texts.length, `${runs} runs for ${texts.length} concurrent callers`);
    // And the scores differ between attacks and benign texts, so a mix-up would show.
    assert.ok(alone[1] > 0.5 && alone[0] < 0.5);
  } finally {
    lease.release();
    await sessions.close();
  }
});
