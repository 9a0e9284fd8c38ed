/**
 * CPU cost of reading a request body the way the gateway does (validate, parse, check,
 * and what forwarding it costs), per body size. CPU time (process.cpuUsage), not wall
 * time, so that a busy machine slows it down less.
 *
 * Usage: node --import tsx bench/micro/body-parse.ts
 */
import { parseJsonBody } from '../../src/server/body.js';
import { chatBody, mnistBody } from '../lib/bodies.js';

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

function cost(f: () => unknown, n: number): number {
  for (let i = 0; i < Math.ceil(n / 5); i++) f();
  let best = Infinity;
  // Best of three: the least disturbed repetition.
  for (let r = 0; r < 3; r++) {
    const t = cpu();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, (cpu() - t) / n);
  }
  return best;
}

const bodies: [string, string][] = [
  ['chat, 32 B prompt', chatBody(32)],
  ['chat, 1 KB prompt', chatBody(1024)],
  ['chat, 16 KB prompt', chatBody(16 * 1024)],
  ['chat, 64 KB prompt', chatBody(64 * 1024)],
  ['KServe, 784 floats', mnistBody()],
];
console.log('| body | bytes | parse us (CPU) | parse + JSON.stringify us (CPU) |');
console.log('|---|---:|---:|---:|');
for (const [name, text] of bodies) {
  const buf = Buffer.from(text);
  const n = Math.max(200, Math.round(2_000_000 / buf.length));
  const parse = cost(() => parseJsonBody(buf, 64), n);
  const both = cost(() => JSON.stringify(parseJsonBody(buf, 64)), n);
  console.log(`| ${name} | ${buf.length} | ${parse.toFixed(1)} | ${both.toFixed(1)} |`);
}
