#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's own test runner (through tsx), each file in
// its own process. Node 20's --test does not expand globs, so we list the files here.
// Usage: npm test [-- filter...]   (a filter keeps files whose path contains it)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.PALISADE_TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  // Tests that create ONNX sessions with onnxruntime-node directly (not through
  // src/detect/ort.ts) keep its telemetry off too (test/detect/ort-telemetry.test.ts).
  { cwd: root, stdio: 'inherit', env: { ORT_DISABLE_TELEMETRY: '1', ...process.env } },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
