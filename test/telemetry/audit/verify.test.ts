import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chainLine, hashLine } from '../../../src/telemetry/audit/chain.js';
import { loadVerifyKey } from '../../../src/telemetry/audit/keys.js';
import { verifyAuditFiles } from '../../../src/telemetry/audit/verify.js';
import { auditFixture, writeLog, type AuditFixture } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').slice(0, -1);
}
function writeLines(file: string, ls: string[]): void {
  writeFileSync(file, ls.map((l) => `${l}\n`).join(''));
}
/** Index of the line with this seq. */
function at(ls: string[], seq: number): number {
  const i = ls.findIndex((l) => JSON.parse(l).seq === seq);
  assert.ok(i >= 0, `seq ${seq} in the log`);
  return i;
}

describe('audit verify on a real log', () => {
  let fx: AuditFixture;
  let file: string;
  let pinned: Awaited<ReturnType<typeof loadVerifyKey>>;
  let original: string;

  before(async () => {
    fx = await auditFixture();
    // 1 start record + 12 requests, a checkpoint every 4 records, a closing checkpoint.
    await writeLog(fx, 12);
    [file] = fx.files();
    original = readFileSync(file, 'utf8');
    pinned = await loadVerifyKey(fx.pubFile);
  });
  after(() => fx.cleanup());
  beforeEach(() => writeFileSync(file, original));

  test('an untouched log verifies, pinned to the key, and ends cleanly', async () => {
    const v = await verifyAuditFiles([file], { key: pinned });
    assert.equal(v.ok, true, v.problem?.message);
    assert.equal(v.startsAt, 'genesis');
    assert.equal(v.firstSeq, 1);
    assert.equal(v.checkpoints, 4);
    assert.equal(v.lastCheckpoint?.reason, 'close');
    assert.equal(v.lastSeq, v.lastCheckpoint?.seq);
    assert.deepEqual(v.keyIds, [fx.key.kid]);
    assert.equal(v.tail.state, 'closed');
    assert.equal(v.tail.truncated, 'no');
  });

  test('an edited record is named', async () => {
    const ls = lines(file);
    const i = at(ls, 4);
    ls[i] = ls[i].replace('"status":200', '"status":201');
    writeLines(file, ls);
    const v = await verifyAuditFiles([file], { key: pinned });
    assert.equal(v.ok, false);
    assert.equal(v.problem?.kind, 'edited');
    assert.equal(v.problem?.seq, 4);
    assert.equal(v.problem?.line, i + 1);
  });

  test('a removed record is named', async () => {
    const ls = lines(file);
    ls.splice(at(ls, 4), 1);
    writeLines(file, ls);
    const v = await verifyAuditFiles([file]);
    assert.equal(v.problem?.kind, 'removed');
    assert.equal(v.problem?.seq, 4);
  });

  test('reordered records are named', async () => {
    const ls = lines(file);
    const i = at(ls, 4);
    [ls[i], ls[i + 1]] = [ls[i + 1], ls[i]];
    writeLines(file, ls);
    const v = await verifyAuditFiles([file]);
    assert.equal(v.problem?.kind, 'reordered');
    assert.equal(v.problem?.seq, 4);
  });

  test('an inserted record is named, even when it chains to its predecessor', async () => {
    const ls = lines(file);
    const i = at(ls, 4);
    // A forger who knows the format: the right seq and the right prev for its place.
    const forged = chainLine(5, hashLine(ls[i]), JSON.stringify({ type: 'request', id: 'forged', decision: 'allow', status: 200 }));
    ls.splice(i + 1, 0, forged);
    writeLines(file, ls);
    const v = await verifyAuditFiles([file]);
    assert.equal(v.problem?.kind, 'inserted');
    assert.equal(v.problem?.seq, 5);
    assert.equal(v.problem?.line, i + 2);
  });

  test('a replayed copy of a record is an insertion', async () => {
    const ls = lines(file);
    ls.splice(at(ls, 9), 0, ls[at(ls, 3)]);
    writeLines(file, ls);
    const v = await verifyAuditFiles([file]);
    assert.equal(v.problem?.kind, 'inserted');
  });

  test('a chain recomputed after an edit is caught by the next signed checkpoint', async () => {
    const ls = lines(file);
    const i = at(ls, 4);
    ls[i] = ls[i].replace('"decision":"allow"', '"decision":"deny"');
    // Re-chain everything after the edit, as a forger without the key can.
    for (let j = i + 1; j < ls.length; j++) {
      const o = JSON.parse(ls[j]);
      const body = JSON.stringify({ ...o, seq: undefined, prev: undefined });
      ls[j] = chainLine(o.seq, hashLine(ls[j - 1]), body);
    }
    writeLines(file, ls);
    const v = await verifyAuditFiles([file], { key: pinned });
    assert.equal(v.problem?.kind, 'bad-signature');
    const cp = JSON.parse(ls.slice(i).find((l) => l.includes('"type":"checkpoint"'))!);
    assert.equal(v.problem?.seq, cp.seq);
  });

  test('an edited checkpoint field fails its signature check', async () => {
    const ls = lines(file);
    const i = ls.findIndex((l) => l.includes('"reason":"count"'));
    ls[i] = ls[i].replace('"reason":"count"', '"reason":"close"');
    // Keep the chain intact so that only the signature can tell.
    for (let j = i + 1; j < ls.length; j++) {
      const o = JSON.parse(ls[j]);
      ls[j] = chainLine(o.seq, hashLine(ls[j - 1]), JSON.stringify({ ...o, seq: undefined, prev: undefined }));
    }
    writeLines(file, ls);
    const v = await verifyAuditFiles([file]);
    assert.equal(v.problem?.kind, 'bad-signature');
    assert.match(v.problem!.message, /differ from what was signed/);
  });

  test('records cut after the last checkpoint: possible without an anchor, certain with --expect-seq', async () => {
    const ls = lines(file);
    const lastSeq = JSON.parse(ls[ls.length - 1]).seq;
    writeLines(file, ls.slice(0, -2)); // the closing checkpoint and the record before it
    const v = await verifyAuditFiles([file], { key: pinned });
    assert.equal(v.ok, true);
    assert.notEqual(v.tail.state, 'closed');
    assert.equal(v.tail.truncated, 'possible');
    const anchored = await verifyAuditFiles([file], { key: pinned, expectSeq: lastSeq });
    assert.equal(anchored.tail.truncated, 'yes');
  });

  test('a file cut in the middle of a record is truncated', async () => {
    writeFileSync(file, original.slice(0, original.length - 20));
    const v = await verifyAuditFiles([file]);
    assert.equal(v.ok, true, 'the complete records still verify');
    assert.equal(v.tail.state, 'torn');
    assert.equal(v.tail.truncated, 'yes');
  });

  test('a log signed by another key fails when the key is pinned', async () => {
    const other = await auditFixture();
    try {
      await writeLog(other, 3);
      const v = await verifyAuditFiles(other.files(), { key: pinned });
      assert.equal(v.problem?.kind, 'bad-signature');
      assert.match(v.problem!.message, /not by the given key/);
      const unpinned = await verifyAuditFiles(other.files());
      assert.equal(unpinned.ok, true);
      assert.deepEqual(unpinned.keyIds, [other.key.kid]);
    } finally {
      other.cleanup();
    }
  });

  test('the CLI exits 0 on a good log and 1 on a tampered one, naming the record', async () => {
    const run = promisify(execFile);
    const cli = ['--import', 'tsx', 'src/cli.ts', 'audit', 'verify', '--key', fx.pubFile, file];
    const ok = await run(process.execPath, cli, { cwd: ROOT });
    assert.match(ok.stdout, /^OK chain of \d+ records/);
    const ls = lines(file);
    ls.splice(at(ls, 6), 1);
    writeLines(file, ls);
    const bad = await run(process.execPath, cli, { cwd: ROOT }).then(
      () => assert.fail('expected exit 1'),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAIL removed: .*record seq 6 was removed/);
  });
});

describe('audit verify across rotated files', () => {
  test('the chain continues across files; a missing file is a removal', async () => {
    const fx = await auditFixture();
    try {
      await writeLog(fx, 40, { maxFileSize: 1500 });
      const files = fx.files();
      assert.ok(files.length >= 3, `rotated into ${files.length} files`);
      const v = await verifyAuditFiles(files);
      assert.equal(v.ok, true, v.problem?.message);
      assert.equal(v.tail.state, 'closed');
      // Every file but the last ends with its rotation checkpoint.
      for (const f of files.slice(0, -1)) assert.match(lines(f).at(-1)!, /"reason":"rotate"/);
      const later = await verifyAuditFiles(files.slice(1));
      assert.equal(later.ok, true);
      assert.equal(later.startsAt, 'mid-chain');
      const gap = await verifyAuditFiles([files[0], ...files.slice(2)]);
      assert.equal(gap.problem?.kind, 'removed');
    } finally {
      fx.cleanup();
    }
  });
});
