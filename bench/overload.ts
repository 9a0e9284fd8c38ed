// Overload: what the gateway does under three times the load it can carry.
//
// The demo LLM server and the gateway run as separate processes; autocannon runs here.
// The model is the bottleneck, as in production: every call takes `--model-ms` at the
// upstream (the demo server's slow-headers fault) and the upstream takes at most
// `--upstream-connections` calls at once (the gateway's pool for it).
//   1. capacity: a closed loop of `--connections` clients, overload protection out of
//      the way; the throughput reached is the capacity.
//   2. 3x capacity, protection off (maxInFlight huge, no queue, no lag shedding): what
//      happens without it.
//   3. 3x capacity, protection on (`PROTECTED` below): admitted requests keep their
//      latency, the rest are shed with 503 PALISADE_OVERLOADED.
// For each phase: status counts, latency of the admitted (2xx) requests, the gateway's
// peak RSS (sampled from /proc), and whether it is still alive and serving afterwards.
//
// Usage: npm run bench:overload [-- --duration 15 --connections 64 --model-ms 50 --upstream-connections 32
//                                  --budget-ms 500 --rss-mb 300]
// Exits 1 when the protected phase misses its budget, its RSS bound, or the gateway died.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    connections: { type: 'string', default: '64' },
    'model-ms': { type: 'string', default: '50' },
    'upstream-connections': { type: 'string', default: '32' },
    factor: { type: 'string', default: '3' },
    'budget-ms': { type: 'string', default: '500' },
    'rss-mb': { type: 'string', default: '300' },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const FACTOR = Number(args.factor);
const BUDGET_MS = Number(args['budget-ms']);
const RSS_MB = Number(args['rss-mb']);
const MODEL_MS = Number(args['model-ms']);
const UPSTREAM_CONNECTIONS = Number(args['upstream-connections']);

// In flight: what the upstream takes at once (more would only wait in the pool, unbounded
// by any timeout); a short queue, waited on at most one model call, absorbs bursts.
const PROTECTED = {
  maxInFlight: UPSTREAM_CONNECTIONS,
  maxQueued: UPSTREAM_CONNECTIONS,
  queueTimeout: `${MODEL_MS}ms`,
  maxEventLoopDelay: process.env.BENCH_ELD ?? '100ms',
  sampleInterval: '250ms',
};
const UNPROTECTED = { maxInFlight: 1_000_000, maxQueued: 0, maxEventLoopDelay: 0 };

const ROOT = new URL('..', import.meta.url).pathname;

interface Proc {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** Starts `node --import tsx <args>` and waits for a stdout line that `match` turns into a URL. */
function start(argv: string[], match: (line: string) => string | undefined): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stopping = false;
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      if (!stopping) console.error(`${argv[0]} died: exit code ${code}, signal ${signal}`);
      r();
    }),
  );
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`${argv.join(' ')}: no listening line`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const url = match(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (url) {
          clearTimeout(t);
          child.stdout!.resume();
          resolve({
            child,
            url,
            stop: async () => {
              stopping = true;
              child.kill('SIGTERM');
              const k = setTimeout(() => child.kill('SIGKILL'), 5000);
              await exited;
              clearTimeout(k);
            },
          });
          return;
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code})`)));
  });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const HEADERS = { 'content-type': 'application/json', ...(MODEL_MS > 0 ? { 'x-demo-fault': `slow-headers:${MODEL_MS}` } : {}) };
const BODY = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'tell me about gateways' }], max_tokens: 16 });

interface PhaseResult {
  name: string;
  offered: string;
  sent: number;
  byStatus: Record<string, number>;
  errors: number;
  okPerSec: number;
  okP50: number;
  okP90: number;
  okP99: number;
  okMax: number;
  shedP99: number;
  rssPeakMb: number;
  aliveAfter: boolean;
}

function q(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN;
}

/**
 * Runs the load: a closed loop of `connections` clients, or, with `overallRate`, an
 * open-ish loop at that rate. autocannon meters a rate per client per second, and its
 * clients start together, so one instance sends each second's quota as one burst; here
 * the rate is split over STAGGER instances started 1/STAGGER s apart, so the bursts are
 * STAGGER times smaller and spread over the second.
 */
async function load(
  url: string,
  opts: { connections: number; overallRate?: number },
  onResponse: (status: number, ms: number) => void,
): Promise<{ sent: number; byStatus: Record<string, number>; errors: number }> {
  const STAGGER = opts.overallRate ? Math.min(20, opts.connections) : 1;
  const runs: Promise<{ requests: { sent: number }; statusCodeStats?: Record<string, { count: number }>; errors: number; timeouts: number }>[] = [];
  for (let i = 0; i < STAGGER; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 1000 / STAGGER));
    const inst = autocannon({
      url: `${url}/v1/chat/completions`,
      method: 'POST',
      headers: HEADERS,
      body: BODY,
      connections: Math.round(opts.connections / STAGGER),
      overallRate: opts.overallRate ? Math.round(opts.overallRate / STAGGER) : undefined,
      duration: DURATION,
      timeout: 10,
    });
    inst.on('response', (_c: unknown, status: number, _bytes: number, ms: number) => onResponse(status, ms));
    runs.push(inst);
  }
  const out = { sent: 0, byStatus: {} as Record<string, number>, errors: 0 };
  for (const r of await Promise.all(runs)) {
    out.sent += r.requests.sent;
    out.errors += r.errors + r.timeouts;
    for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) out.byStatus[code] = (out.byStatus[code] ?? 0) + s.count;
  }
  return out;
}

async function phase(name: string, overload: object, opts: { connections: number; overallRate?: number }, llmUrl: string): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  const file = join(dir, 'palisade.yaml');
  writeFileSync(
    file,
    `server:
  listen: 127.0.0.1:0
  admin: { listen: 127.0.0.1:0 }
  maxConnectionsPerClient: 0
  overload: ${JSON.stringify(overload)}
upstreams:
  llm: { protocol: openai, url: "${llmUrl}", pool: { connections: ${UPSTREAM_CONNECTIONS} }, timeouts: { headers: 60s } }
models:
  - { name: demo-llm, upstream: llm }
`,
  );
  const gw = await start(['src/cli.ts', 'start', '-c', file], (l) => (l.includes('palisade listening') ? /"url":"([^"]+)"/.exec(l)?.[1] : undefined));
  let peak = rssMb(gw.child.pid!);
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(gw.child.pid!));
    } catch {
      /* exited */
    }
  }, 200);
  const ok: number[] = [];
  const shed: number[] = [];
  try {
    // Warm-up: JIT, pools, connections.
    await autocannon({ url: `${gw.url}/v1/chat/completions`, method: 'POST', headers: HEADERS, body: BODY, connections: 8, duration: 2 });
    const r = await load(gw.url, opts, (status, ms) => (status < 300 ? ok : shed).push(ms));
    let aliveAfter = false;
    try {
      aliveAfter = (await fetch(`${gw.url}/v1/models`)).status === 200;
    } catch {
      /* dead */
    }
    ok.sort((a, b) => a - b);
    shed.sort((a, b) => a - b);
    const byStatus = r.byStatus;
    return {
      name,
      offered: opts.overallRate ? `${opts.overallRate} req/s over ${opts.connections} connections` : `closed loop, ${opts.connections} connections`,
      sent: r.sent,
      byStatus,
      errors: r.errors,
      okPerSec: ok.length / DURATION,
      okP50: q(ok, 0.5),
      okP90: q(ok, 0.9),
      okP99: q(ok, 0.99),
      okMax: ok.at(-1) ?? NaN,
      shedP99: q(shed, 0.99),
      rssPeakMb: peak,
      aliveAfter,
    };
  } finally {
    clearInterval(sampler);
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds to 0.1 (autocannon reports them to the nanosecond). */
function ms(v: number): string {
  return Number.isNaN(v) ? '-' : v.toFixed(1);
}

function line(p: PhaseResult): string {
  const statuses = Object.entries(p.byStatus).map(([k, v]) => `${k}: ${v}`).join(', ');
  return `| ${p.name} | ${p.offered} | ${p.sent} | ${statuses}${p.errors ? `, errors: ${p.errors}` : ''} | ${p.okPerSec.toFixed(0)} | ${ms(p.okP50)} / ${ms(p.okP90)} / ${ms(p.okP99)} / ${ms(p.okMax)} | ${ms(p.shedP99)} | ${p.rssPeakMb.toFixed(0)} | ${p.aliveAfter ? 'yes' : 'NO'} |`;
}

const llm = await start(['src/demo/llm-server.ts', '--port', '0'], (l) => {
  try {
    return (JSON.parse(l) as { listening?: string }).listening;
  } catch {
    return undefined;
  }
});
try {
  const cap = await phase('capacity', UNPROTECTED, { connections: CONNECTIONS }, llm.url);
  const rate = Math.round(cap.okPerSec * FACTOR);
  // Enough connections that the rate, not the closed loop, sets the load.
  const conns = Number(process.env.BENCH_CONNS ?? Math.max(CONNECTIONS * FACTOR * 4, 256));
  const off = await phase(`${FACTOR}x, protection off`, UNPROTECTED, { connections: conns, overallRate: rate }, llm.url);
  const on = await phase(`${FACTOR}x, protection on`, PROTECTED, { connections: conns, overallRate: rate }, llm.url);
  console.log(`node ${process.version}, ${DURATION} s per phase, model ${MODEL_MS} ms x ${UPSTREAM_CONNECTIONS} upstream connections, capacity ${cap.okPerSec.toFixed(0)} req/s, offered ${rate} req/s`);
  console.log(`protected: ${JSON.stringify(PROTECTED)}`);
  console.log('| phase | offered | sent | responses | 2xx/s | 2xx latency p50 / p90 / p99 / max (ms) | 503 p99 (ms) | gateway RSS peak (MB) | alive after |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const p of [cap, off, on]) console.log(line(p));
  const fails: string[] = [];
  if (!(on.okP99 <= BUDGET_MS)) fails.push(`admitted p99 ${ms(on.okP99)} ms > budget ${BUDGET_MS} ms`);
  if (!(on.rssPeakMb <= RSS_MB)) fails.push(`RSS peak ${on.rssPeakMb.toFixed(0)} MB > ${RSS_MB} MB`);
  if (!on.aliveAfter) fails.push('the gateway did not answer after the run');
  if (!(on.byStatus['503'] > 0)) fails.push('nothing was shed');
  console.log(fails.length ? `FAIL: ${fails.join('; ')}` : `PASS: admitted p99 ${ms(on.okP99)} ms <= ${BUDGET_MS} ms, RSS peak ${on.rssPeakMb.toFixed(0)} MB <= ${RSS_MB} MB, alive, excess shed`);
  process.exitCode = fails.length ? 1 : 0;
} finally {
  await llm.stop();
}
