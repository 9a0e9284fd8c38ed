import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hashLine } from '../../../src/telemetry/audit/chain.js';
import { verifyAuditFiles } from '../../../src/telemetry/audit/verify.js';
import { auditFixture, writeLog } from './helpers.js';

function records(files: string[]): Record<string, any>[] {
  return files.flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(0, -1).map((l) => JSON.parse(l)));
}

test('a full queue drops records, counts them, and leaves a gap record in the chain', async () => {
  const fx = await auditFixture();
  try {
    let dropped = 0;
    const log = await fx.open({ queueSize: 5, hooks: { dropped: () => dropped++ } });
    // append never waits, so all 20 arrive within one tick: the writer has taken at most
    // one batch (the first record) and 5 wait in the queue.
    const accepted = Array.from({ length: 20 }, (_, i) => log.append({ type: 'request', id: `r${i}` })).filter(Boolean).length;
    assert.ok(accepted >= 5 && accepted <= 6, `accepted ${accepted}`);
    assert.equal(dropped, 20 - accepted);
    await log.close();
    const recs = records(fx.files());
    const gap = recs.find((r) => r.type === 'gap');
    assert.equal(gap?.dropped, dropped);
    assert.deepEqual(
      recs.filter((r) => r.type === 'request').map((r) => r.id),
      Array.from({ length: accepted }, (_, i) => `r${i}`),
    );
    // The gap sits where the records were lost: after the last accepted one.
    assert.equal(recs[recs.indexOf(gap!) - 1].id, `r${accepted - 1}`);
    const v = await verifyAuditFiles(fx.files());
    assert.equal(v.ok, true, v.problem?.message);
  } finally {
    fx.cleanup();
  }
});

test('a reopened log continues the chain from its last record', async () => {
  const fx = await auditFixture();
  try {
    await writeLog(fx, 3);
    const [file] = fx.files();
    const before = readFileSync(file, 'utf8').split('\n').slice(0, -1);
    await writeLog(fx, 2);
    const recs = records(fx.files());
    const start2 = recs.filter((r) => r.type === 'start')[1];
    assert.equal(start2.seq, before.length + 1);
    assert.equal(start2.prev, hashLine(before.at(-1)!));
    const v = await verifyAuditFiles(fx.files());
    assert.equal(v.ok, true, v.problem?.message);
    assert.equal(v.tail.state, 'closed');
  } finally {
    fx.cleanup();
  }
});

test('a torn last line (a crash mid-write) is cut off on open, and the start record says so', async () => {
  const fx = await auditFixture();
  try {
    await writeLog(fx, 3);
    const [file] = fx.files();
    const torn = '{"seq":99,"prev":"abc","type":"requ';
    appendFileSync(file, torn);
    assert.equal((await verifyAuditFiles([file])).tail.state, 'torn');
    await writeLog(fx, 1);
    const recs = records(fx.files());
    const start2 = recs.filter((r) => r.type === 'start')[1];
    assert.deepEqual(start2.recovered, { truncatedBytes: torn.length });
    const v = await verifyAuditFiles(fx.files());
    assert.equal(v.ok, true, v.problem?.message);
  } finally {
    fx.cleanup();
  }
});

test('a checkpoint is written after checkpointInterval when records are unsigned', async () => {
  const fx = await auditFixture();
  try {
    const log = await fx.open({ checkpointEvery: 1000, checkpointInterval: 50 });
    log.append({ type: 'request', id: 'a' });
    await log.flush();
    // Poll the file (not a timed assertion: we wait for the event, bounded by the test timeout).
    const read = () => records(fx.files());
    while (!read().some((r) => r.type === 'checkpoint' && r.reason === 'interval')) await new Promise((r) => setTimeout(r, 20));
    await log.close();
    const v = await verifyAuditFiles(fx.files());
    assert.equal(v.ok, true);
    assert.equal(v.checkpoints, 2);
  } finally {
    fx.cleanup();
  }
});

test('a record that cannot be serialized keeps its place in the chain', async () => {
  const fx = await auditFixture();
  try {
    const log = await fx.open();
    const cyclic: Record<string, unknown> = { type: 'request' };
    cyclic.self = cyclic;
    log.append(cyclic as never);
    log.append({ type: 'request', id: 'after' });
    await log.close();
    const recs = records(fx.files());
    assert.equal(recs[1].type, 'unserializable');
    assert.equal(recs[2].id, 'after');
    assert.equal((await verifyAuditFiles(fx.files())).ok, true);
  } finally {
    fx.cleanup();
  }
});
