/**
 * Profiles the gateway's hot path: runs the demo LLM server and a gateway (compiled, as
 * it ships) under `node --cpu-prof`, loads it with autocannon, stops it, and prints where
 * the time went (self and total per function, self per file).
 *
 * Usage: npm run bench:profile -- [-c bench/configs/passthrough.yaml] [--seconds 10] [--body FILE] [--auth] [--perf]
 * The .cpuprofile is left in var/profiles/ (open it in Chrome DevTools for the flame chart).
 *
 * `--auth` sends the bench's bearer token (for the configs with JWT). `--perf` samples
 * with Linux `perf` instead (the gateway runs with --perf-basic-prof, so JIT frames have
 * names) and prints CPU microseconds per request: in all, by binary, the inclusive cost
 * of the onnxruntime call, and the top symbols. V8's profiler samples by wall clock, so
 * a synchronous native call during which the process is preempted (three processes on
 * two cores) is charged for the time it waited: it put the detector's onnxruntime run near
 * 16 us a request where perf's CPU samples put it at 12 us (bench/results/perf-attribution.md).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { summarizeProfile } from './lib/cpuprofile.js';
import { runLoad } from './lib/load.js';
import { gatewayLine, listeningLine, startProc, type Proc } from './lib/proc.js';
import { ensureBuilt } from './lib/build.js';
import { chatBody } from './lib/bodies.js';
import { benchToken } from './lib/tokens.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    config: { type: 'string', short: 'c', default: 'bench/configs/passthrough.yaml' },
    seconds: { type: 'string', default: '10' },
    body: { type: 'string' },
    path: { type: 'string', default: '/v1/chat/completions' },
    top: { type: 'string', default: '30' },
    header: { type: 'string', multiple: true },
    auth: { type: 'boolean', default: false },
    perf: { type: 'boolean', default: false },
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
    args: [...(values.perf ? ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(dir, 'v8.log')}`] : ['--cpu-prof', '--cpu-prof-dir', dir]), 'dist/cli.js', 'start', '-c', values.config!],
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
  if (values.auth) headers.authorization = `Bearer ${await benchToken(ROOT)}`;
  const body = values.body ? readFileSync(values.body, 'utf8') : chatBody(32);
  const load = () => runLoad({ url: gw.url + values.path, method: 'POST', headers, body, connections: 32, duration: Number(values.seconds) });
  if (values.perf) await perfProfile(gw, load, Number(values.seconds), Number(values.top));
  else await cpuProfile(gw, load, started, Number(values.top));
} finally {
  for (const p of procs.reverse()) await p.stop();
}

/** Loads the gateway under --cpu-prof, stops it, and prints the profile's summary. */
async function cpuProfile(gw: Proc, load: () => ReturnType<typeof runLoad>, started: number, top: number): Promise<void> {
  const r = await load();
  console.log(`load: ${r.requests} requests, ${r.rps.toFixed(0)} req/s, ${r.errors} errors`);
  await gw.stop();
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= started)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!file) throw new Error('no profile written');
  const { functions, byFile } = summarizeProfile(file, ROOT);
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
}

/**
 * Loads the gateway twice (a warm-up, then the measured run while `perf record` samples
 * it), then prints CPU per request from /proc and perf's attribution of it.
 */
async function perfProfile(gw: Proc, load: () => ReturnType<typeof runLoad>, seconds: number, top: number): Promise<void> {
  const file = join(dir, `perf-${Date.now()}.data`);
  await load(); // warm-up: JIT and caches settle before the samples
  const rec = spawn('perf', ['record', '-F', '999', '-g', '-p', String(gw.pid), '-o', file, '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let recErr = '';
  rec.stderr.on('data', (d) => (recErr += d));
  const recorded = new Promise<number>((resolve) => {
    rec.on('close', (code) => resolve(code ?? 1));
    rec.on('error', (err) => {
      recErr = `${err.message} (is perf installed? apt-get install linux-perf)`;
      resolve(1);
    });
  });
  const cpu0 = gw.cpuMicros();
  const t0 = performance.now();
  const r = await load();
  const wall = (performance.now() - t0) / 1000;
  const cpuPerReq = (gw.cpuMicros() - cpu0) / r.requests;
  if ((await recorded) !== 0) throw new Error(`perf record failed: ${recErr.trim()}`);
  console.log(`load: ${r.requests} requests in ${wall.toFixed(1)} s, ${r.rps.toFixed(0)} req/s, ${r.errors} errors; gateway CPU ${cpuPerReq.toFixed(1)} us/req (/proc)`);
  const script = spawnSync('perf', ['script', '-i', file, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  const bySym = new Map<string, number>();
  const byDso = new Map<string, number>();
  let total = 0;
  let ort = 0;
  for (const sample of script.stdout.split('\n\n')) {
    const frames = sample.split('\n').map((l) => l.trim()).filter(Boolean);
    if (frames.length === 0) continue;
    total++;
    const leaf = /^[0-9a-f]+\s+(.*?)\s+\((.*)\)$/.exec(frames[0]);
    const sym = leaf?.[1] ?? '?';
    const dso = (leaf?.[2] ?? '?').replace(/^.*\//, '').replace(/^perf-\d+\.map$/, '[JIT]');
    bySym.set(`${sym} (${dso})`, (bySym.get(`${sym} (${dso})`) ?? 0) + 1);
    byDso.set(dso, (byDso.get(dso) ?? 0) + 1);
    if (frames.some((f) => f.includes('onnxruntime'))) ort++;
  }
  // perf's window and the load's differ by its start-up: its shares, applied to the CPU per request from /proc.
  const us = (n: number) => ((n / total) * cpuPerReq).toFixed(2).padStart(7);
  console.log(`\nperf: ${total} samples; onnxruntime on the stack (its run, inclusive): ${us(ort)} us/req (${((100 * ort) / total).toFixed(1)}%)`);
  console.log('\nby binary (self), us/req:');
  for (const [k, v] of [...byDso].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${us(v)}  ${k}`);
  console.log('\ntop symbols (self), us/req:');
  for (const [k, v] of [...bySym].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${us(v)}  ${k.slice(0, 150)}`);
  console.log(`\nperf data: ${file}`);
}
