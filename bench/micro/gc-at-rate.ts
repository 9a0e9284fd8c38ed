/**
 * The latency tail and the garbage collections of one gateway config at a paced rate:
 * runs the demo LLM server and a gateway (dist/, with --trace-gc), paces chat requests
 * at 500 req/s for 10 s after 3 s of warm-up, and prints p50-p99.9 and the collections
 * of the measured 10 s (count, mean and longest pause).
 *
 * Usage: node --import tsx bench/micro/gc-at-rate.ts [CONFIG] ["NODE FLAGS"]
 *   e.g. node --import tsx bench/micro/gc-at-rate.ts bench/configs/full-chain.yaml
 * (npm run build first; the trace goes to var/gc-at-rate.log)
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chatBody } from '../lib/bodies.js';
import { runLoad } from '../lib/load.js';
import { gatewayLine, listeningLine, startProc } from '../lib/proc.js';
import { benchToken } from '../lib/tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cfg = process.argv[2] ?? 'bench/configs/full-chain.yaml';
const flags = process.argv[3] ?? '';
mkdirSync(join(ROOT, 'var'), { recursive: true });
const log = join(ROOT, 'var/gc-at-rate.log');
const llm = await startProc({ name: 'llm', command: process.execPath, args: ['--import', 'tsx', 'src/demo/llm-server.ts', '--port', '0'], cwd: ROOT, readyLine: listeningLine });
const gw = await startProc({
  name: 'gateway',
  command: 'sh',
  args: ['-c', `exec ${process.execPath} --trace-gc ${flags} dist/cli.js start -c ${cfg} | tee ${log}`],
  cwd: ROOT,
  env: { ...process.env, BENCH_LLM_URL: llm.url, BENCH_KSERVE_URL: llm.url },
  readyLine: gatewayLine,
});
try {
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${await benchToken(ROOT)}` };
  const spec = { url: gw.url + '/v1/chat/completions', method: 'POST' as const, headers, body: chatBody(32), connections: 16, rate: 500 };
  await runLoad({ ...spec, duration: 3 });
  const before = readFileSync(log, 'utf8').split('\n').length;
  const r = await runLoad({ ...spec, duration: 10 });
  const l = Array.from(r.latencies).sort((a, b) => a - b);
  const q = (p: number) => l[Math.min(l.length - 1, Math.floor(p * l.length))].toFixed(2);
  console.log(`${cfg} ${flags}: n ${l.length}, errors ${r.errors}, p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} p99.9 ${q(0.999)} max ${l[l.length - 1].toFixed(2)} ms`);
  const kinds = new Map<string, number[]>();
  for (const x of readFileSync(log, 'utf8').split('\n').slice(before)) {
    const m = /ms: (\w[\w-]*).*?MB, ([\d.]+) \/ ([\d.]+) ms/.exec(x);
    if (!m) continue;
    const k = kinds.get(m[1]) ?? [];
    k.push(Number(m[2]));
    kinds.set(m[1], k);
  }
  for (const [k, v] of kinds) console.log(`${k}: ${v.length} in 10 s, mean ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(2)} ms, longest ${Math.max(...v).toFixed(2)} ms`);
} finally {
  await gw.stop();
  await llm.stop();
}
