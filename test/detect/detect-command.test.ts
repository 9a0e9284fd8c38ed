import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ATTACK, BENIGN, PACKAGE_DIR, ROOT } from './helpers.js';

function runCli(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

test('palisade detect scores JSON lines in order', async () => {
  const lines = [ATTACK, BENIGN, ATTACK, 'not json', BENIGN].map((t) => (t === 'not json' ? t : JSON.stringify({ text: t })));
  const r = await runCli(['detect', '--package', PACKAGE_DIR], `${lines.join('\n')}\n`);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 5);
  assert.deepEqual(out.map((o) => o.flagged), [true, false, true, undefined, false]);
  assert.equal(out[3].error, 'not JSON');
  assert.ok(out[0].score >= 0.5 && out[1].score < 0.5);
});

test('palisade detect refuses a package that does not verify against the given key', async () => {
  const r = await runCli(['detect', '--package', PACKAGE_DIR, '--trusted-key', join(ROOT, 'package.json')], '');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /trusted key .*package\.json/);
});

test('palisade detect scores tensor lines with a tensor package', async () => {
  const { loadMnist, takeSubset } = await import('../../src/demo/mnist-data.js');
  const digit = Array.from(takeSubset(loadMnist().test, 1, 4).x);
  const noise = digit.map((_, i) => ((i * 7919) % 101) / 100);
  const nested = Array.from({ length: 28 }, (_, r) => digit.slice(r * 28, (r + 1) * 28));
  const lines = [
    { tensor: digit, shape: [1, 784] },
    { tensor: noise, shape: [1, 784] },
    { tensor: [nested], shape: [1, 28, 28] },
    { tensor: [...digit, ...noise], shape: [2, 784] },
    { tensor: digit, shape: [2, 784] },
    { tensor: digit.slice(0, 10), shape: [10] },
    { text: 'hello' },
  ].map((l) => JSON.stringify(l));
  const r = await runCli(['detect', '--package', join(ROOT, 'models/mnist-adversarial')], `${lines.join('\n')}\n`);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 7);
  assert.deepEqual(out.slice(0, 4).map((o) => o.flagged), [false, true, false, true]);
  assert.equal(out[2].score, out[0].score, 'nested values read as the same row');
  assert.equal(out[3].rows.length, 2);
  assert.ok(out[3].rows[0] < out[3].rows[1]);
  assert.match(out[4].error, /does not hold 784 values/);
  assert.match(out[5].error, /not a multiple of the detector's row width 784/);
  assert.equal(out[6].error, 'no array "tensor"');
});
