/**
 * Where a request's time goes at a paced rate: runs the demo LLM server and a gateway
 * (dist/), paces chat requests at RATE for 10 s after 3 s of warm-up, and prints the
 * client's latency percentiles beside each stage's and the upstream call's, read from
 * the gateway's own histograms (GET /metrics on the admin listener, the difference over
 * the measured 10 s). A stage's percentile is the upper bound of the histogram bucket it
 * falls in (palisade_stage_duration_seconds: 50, 100, 250, 500 us, 1, 2.5, 5 ms, ...), so
 * read it as "at most". (The request and upstream histograms start at 5 ms, too coarse
 * for this; the client's percentiles stand for the request.)
 *
 * Usage: node --import tsx bench/micro/stages-at-rate.ts [CONFIG] [RATE]
 *   e.g. node --import tsx bench/micro/stages-at-rate.ts bench/configs/full-chain.yaml 500
 * (npm run build first). A config with an `auth:` section gets the bench's JWT.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chatBody } from '../lib/bodies.js';
import { runPaced } from '../lib/paced.js';
import { gatewayLine, listeningLine, startProc } from '../lib/proc.js';
import { benchToken } from '../lib/tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cfg = process.argv[2] ?? 'bench/configs/full-chain.yaml';
const rate = Number(process.argv[3] ?? 500);

let adminUrl = '';
const llm = await startProc({ name: 'llm', command: process.execPath, args: ['--import', 'tsx', 'src/demo/llm-server.ts', '--port', '0'], cwd: ROOT, readyLine: listeningLine });
const gw = await startProc({
  name: 'gateway',
  command: process.execPath,
  args: ['dist/cli.js', 'start', '-c', cfg],
  cwd: ROOT,
  env: { ...process.env, BENCH_LLM_URL: llm.url, BENCH_KSERVE_URL: llm.url },
  readyLine: (line) => {
    const url = gatewayLine(line);
    if (url) adminUrl = String((JSON.parse(line) as { admin?: unknown }).admin ?? '');
    return url;
  },
});

type Buckets = Map<string, Map<number, number>>; // series -> upper bound (s) -> cumulative count
const SERIES = /^palisade_(stage)_duration_seconds_bucket\{(.*)\} (\S+)$/;
async function scrape(): Promise<Buckets> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Buckets = new Map();
  for (const line of text.split('\n')) {
    const m = SERIES.exec(line);
    if (!m) continue;
    const name = m[2].split(',').filter((l) => !l.startsWith('le=')).map((l) => l.split('=')[1].replaceAll('"', '')).join(' ');
    const le = /le="([^"]+)"/.exec(m[2])![1];
    const series = out.get(name) ?? new Map<number, number>();
    series.set(le === '+Inf' ? Infinity : Number(le), (series.get(le === '+Inf' ? Infinity : Number(le)) ?? 0) + Number(m[3]));
    out.set(name, series);
  }
  return out;
}

try {
  if (!adminUrl) throw new Error('the gateway printed no admin URL: this needs server.admin.listen in the config');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (/^auth:/m.test(readFileSync(resolve(ROOT, cfg), 'utf8'))) headers.authorization = `Bearer ${await benchToken(ROOT)}`;
  const spec = { url: `${gw.url}/v1/chat/completions`, method: 'POST' as const, headers, body: chatBody(32, { maxTokens: 16 }), connections: 16, rate };
  await runPaced({ ...spec, duration: 3 });
  const before = await scrape();
  const r = await runPaced({ ...spec, duration: 10 });
  const after = await scrape();

  const lat = Array.from(r.latencies).sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const ms = (s: number) => (s === Infinity ? 'more' : `${+(s * 1000).toFixed(3)}`);
  console.log(`# Where the time goes at ${rate} req/s: ${cfg}\n`);
  console.log(`Command: \`node --import tsx bench/micro/stages-at-rate.ts ${cfg} ${rate}\` (${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})\n`);
  console.log(`Client (paced open loop, 16 connections): ${lat.length} requests, ${r.errors} errors; p50 ${q(0.5).toFixed(2)} ms, p90 ${q(0.9).toFixed(2)}, p99 ${q(0.99).toFixed(2)}, p99.9 ${q(0.999).toFixed(2)}\n`);
  console.log('| stage | count | p50 ms (at most) | p99 ms (at most) | over 0.5 ms | over 1 ms |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, cum] of after) {
    const prev = before.get(name) ?? new Map<number, number>();
    const bounds = [...cum.keys()].sort((a, b) => a - b);
    const d = bounds.map((b) => cum.get(b)! - (prev.get(b) ?? 0));
    const n = d[d.length - 1];
    if (!n) continue;
    const at = (p: number) => bounds[d.findIndex((c) => c >= p * n)];
    const over = (s: number) => {
      const i = bounds.indexOf(s);
      return i < 0 ? '' : `${(((n - d[i]) / n) * 100).toFixed(1)}%`;
    };
    console.log(`| ${name} | ${n} | ${ms(at(0.5))} | ${ms(at(0.99))} | ${over(0.0005)} | ${over(0.001)} |`);
  }
} finally {
  await gw.stop();
  await llm.stop();
}
