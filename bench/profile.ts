/**
 * Profiles the gateway's hot path: runs the demo LLM server and a gateway (compiled, as
 * it ships) under `node --cpu-prof`, loads it with autocannon, stops it, and prints where
 * the time went (self and total per function, self per file).
 *
 * Usage: npm run bench:profile -- [-c bench/configs/passthrough.yaml] [--seconds 10] [--body FILE]
 * The .cpuprofile is left in var/profiles/ (open it in Chrome DevTools for the flame chart).
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { summarizeProfile } from './lib/cpuprofile.js';
import { runLoad } from './lib/load.js';
import { gatewayLine, listeningLine, startProc, type Proc } from './lib/proc.js';
import { ensureBuilt } from './lib/build.js';
import { chatBody } from './lib/bodies.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    config: { type: 'string', short: 'c', default: 'bench/configs/passthrough.yaml' },
    seconds: { type: 'string', default: '10' },
    body: { type: 'string' },
    path: { type: 'string', default: '/v1/chat/completions' },
    top: { type: 'string', default: '30' },
    header: { type: 'string', multiple: true },
  },
});

ensureBuilt(ROOT);
const dir = join(ROOT, 'var/profiles');
mkdirSync(dir, { recursive: true });
const procs: Proc[] = [];
try {
  const llm = await startProc({ name: 'llm', command: process.execPath, args: ['--import', 'tsx', 'src/demo/llm-server.ts', '--port', '0'], cwd: ROOT, readyLine: listeningLine });
  procs.push(llm);
  const started = Date.now();
  const gw = await startProc({
    name: 'gateway',
    command: process.execPath,
    args: ['--cpu-prof', '--cpu-prof-dir', dir, 'dist/cli.js', 'start', '-c', values.config!],
    cwd: ROOT,
    env: { ...process.env, BENCH_LLM_URL: llm.url, BENCH_KSERVE_URL: llm.url },
    readyLine: gatewayLine,
  });
  procs.push(gw);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const h of values.header ?? []) {
    const i = h.indexOf(':');
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }
  const body = values.body ? readFileSync(values.body, 'utf8') : chatBody(32);
  const r = await runLoad({ url: gw.url + values.path, method: 'POST', headers, body, connections: 32, duration: Number(values.seconds) });
  console.log(`load: ${r.requests} requests, ${r.rps.toFixed(0)} req/s, ${r.errors} errors`);
  await gw.stop();
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error('no profile written');
  const { functions, byFile } = summarizeProfile(file, ROOT);
  const top = Number(values.top);
  console.log(`\nprofile: ${file}\n\nself time by function (% of busy samples):`);
  for (const f of [...functions].sort((a, b) => b.selfPct - a.selfPct).slice(0, top)) {
    console.log(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  }
  console.log('\ntotal time of our own functions (src/):');
  for (const f of functions.filter((f) => f.where.startsWith('dist/') || f.where.startsWith('src/')).sort((a, b) => b.totalPct - a.totalPct).slice(0, top)) {
    console.log(`${f.totalPct.toFixed(1).padStart(5)}%  ${f.name}  ${f.where}`);
  }
  console.log('\nself time by file:');
  for (const f of byFile.slice(0, top)) console.log(`${f.selfPct.toFixed(1).padStart(5)}%  ${f.where}`);
} finally {
  for (const p of procs.reverse()) await p.stop();
}
