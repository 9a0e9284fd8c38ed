/**
 * `npm run bench`: starts what the scenarios need (demo upstreams, gateway configs,
 * peers) as separate processes, runs every scenario under the same load in
 * interleaved rounds (A B C ... A B C ...) so that drift cancels, and writes
 * bench/results/latest.{json,md,svg}.
 *
 * Usage: npm run bench -- [--quick] [--only NAME,NAME] [--rounds N] [--duration S] [--save NAME]
 *   --quick      every scenario briefly (a smoke check, under two minutes)
 *   --only       scenarios whose name contains one of these strings (`=NAME`: exactly that name)
 *   --save NAME  also keep the result as bench/results/NAME.{json,md,svg}
 *   --baseline REF  also run every gateway scenario on the gateway built from git REF
 *                (as NAME~base), interleaved with this one: an A/B of a change on a busy machine
 *   --pin        each proxy on CPU 1 alone, upstreams and the load generator on CPU 0 (taskset)
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildBaseline, ensureBuilt } from './lib/build.js';
import { barChart } from './lib/chart.js';
import { quantile, runLoad, type LoadResult } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import type { Proc } from './lib/proc.js';
import { derive, renderMarkdown, type BenchResult, type ScenarioResult } from './lib/report.js';
import { probeStream } from './lib/sse-probe.js';
import { benchToken } from './lib/tokens.js';
import { CLIENT_CPU, gatewayTarget, pinProxies, type TargetSpec } from './lib/targets.js';
import { SCENARIOS, TARGETS, type Scenario } from './scenarios.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    save: { type: 'string' },
    baseline: { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});
const quick = args.quick!;
const settings = {
  quick,
  rounds: Number(args.rounds ?? (quick ? 2 : 3)),
  durationS: Number(args.duration ?? (quick ? 1 : 5)),
  // JIT and heap warm-up is work, not time: on a busy machine a few seconds may be a few
  // hundred requests. Every scenario gets this many requests before it is measured.
  warmupRequests: quick ? 1000 : 5000,
  // ...within a time cap, so that a slow scenario (a 64 KB prompt through a detector)
  // does not spend the whole budget warming up.
  warmupMaxS: quick ? 0.6 : 8,
  probeRequests: quick ? 24 : 300,
  /** The measured proxy on a CPU of its own, upstreams and load generator on the other (--pin). */
  pinned: args.pin!,
};
if (settings.pinned) {
  pinProxies(true);
  // This process is the load generator: all its threads on the client CPU.
  const r = spawnSync('taskset', ['-a', '-p', '-c', CLIENT_CPU, String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--pin: taskset failed: ${r.stderr || r.error}`);
}
const PROBE_DELAY_HEADERS = { 'x-demo-token-delay-ms': '2' };

const log = (s: string) => process.stderr.write(`${s}\n`);
const started = new Map<string, Proc>();
const targetByName = new Map(TARGETS.map((t) => [t.name, t]));

async function stopAll(): Promise<void> {
  for (const p of [...started.values()].reverse()) await p.stop().catch(() => {});
  started.clear();
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    log(`bench: ${sig}, stopping processes`);
    void stopAll().then(() => process.exit(130));
  });
}

/** Why a target (or one of its upstreams) cannot run, else undefined. */
const whyCache = new Map<string, Promise<string | undefined>>();
function unavailable(name: string): Promise<string | undefined> {
  let p = whyCache.get(name);
  if (!p) {
    const t = targetByName.get(name);
    p = t
      ? (async () => {
          for (const u of t.upstreams) {
            const why = await unavailable(u);
            if (why) return why;
          }
          return t.unavailable(ROOT);
        })()
      : Promise.resolve(`no target ${name}`);
    whyCache.set(name, p);
  }
  return p;
}

const starting = new Map<string, Promise<Proc>>();

/** Starts a target once (its upstreams first); concurrent callers share the start. */
function start(t: TargetSpec): Promise<Proc> {
  let p = starting.get(t.name);
  if (!p) {
    p = (async () => {
      await Promise.all(t.upstreams.map((u) => start(targetByName.get(u)!)));
      log(`bench: starting ${t.name}`);
      const proc = await t.start({ root: ROOT, started });
      started.set(t.name, proc);
      return proc;
    })();
    starting.set(t.name, p);
  }
  return p;
}

interface Run {
  load: LoadResult;
  cpuMicros: number;
}

let bearer: Record<string, string> = {};

function headersOf(s: Scenario): Record<string, string> | undefined {
  return s.auth ? { ...s.headers, ...bearer } : s.headers;
}

async function measure(s: Scenario, durationS: number, amount?: number, maxSeconds?: number): Promise<Run> {
  const proc = started.get(s.target)!;
  const c0 = proc.cpuMicros();
  const load = await runLoad({
    url: proc.url + s.path,
    method: 'POST',
    headers: headersOf(s),
    body: s.body,
    connections: s.connections,
    duration: durationS,
    amount,
    maxSeconds,
    rate: amount ? undefined : s.rate,
  });
  return { load, cpuMicros: proc.cpuMicros() - c0 };
}

function swapPairs(list: Scenario[]): Scenario[] {
  const out = [...list];
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i + 1].name === `${out[i].name}~base`) {
      [out[i], out[i + 1]] = [out[i + 1], out[i]];
      i++;
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarize(s: Scenario, runs: Run[]): ScenarioResult {
  const n = runs.reduce((a, r) => a + r.load.latencies.length, 0);
  const all = new Float64Array(n);
  let o = 0;
  for (const r of runs) {
    all.set(r.load.latencies, o);
    o += r.load.latencies.length;
  }
  all.sort();
  const requests = runs.reduce((a, r) => a + r.load.requests, 0);
  const cpu = runs.reduce((a, r) => a + r.cpuMicros, 0);
  const r2 = (v: number) => Math.round(v * 100) / 100;
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  return {
    name: s.name,
    rps: r2(median(runs.map((r) => r.load.rps))),
    p50Ms: r3(quantile(all, 0.5)),
    p90Ms: r3(quantile(all, 0.9)),
    p99Ms: r3(quantile(all, 0.99)),
    errors: runs.reduce((a, r) => a + r.load.errors, 0),
    description: s.description,
    group: s.group,
    requests,
    cpuUsPerReq: requests ? Math.round((cpu / requests) * 10) / 10 : 0,
    roundsRps: runs.map((r) => Math.round(r.load.rps)),
    roundsCpuUsPerReq: runs.map((r) => Math.round(r.cpuMicros / Math.max(1, r.load.requests))),
    ...(s.rate ? { rate: s.rate } : {}),
    ...(s.promptKb ? { promptKb: s.promptKb } : {}),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const machine = machineInfo(ROOT);
  const only = args.only?.split(',').map((x) => x.trim()).filter(Boolean);
  const wanted = SCENARIOS.filter((s) => !only || only.some((o) => (o.startsWith('=') ? s.name === o.slice(1) : s.name.includes(o))));
  const skipped: BenchResult['skipped'] = [];
  const runnable: Scenario[] = [];
  for (const s of wanted) {
    const why = await unavailable(s.target);
    if (why) skipped.push({ name: s.name, why });
    else runnable.push(s);
  }
  if (runnable.some((s) => targetByName.get(s.target)!.gateway)) ensureBuilt(ROOT);
  if (runnable.some((s) => s.auth)) bearer = { authorization: `Bearer ${await benchToken(ROOT)}` };
  if (args.baseline) {
    const cli = buildBaseline(ROOT, args.baseline);
    for (const s of [...runnable]) {
      const g = targetByName.get(s.target)!.gateway;
      if (!g) continue;
      const name = `${s.target}~base`;
      if (!targetByName.has(name)) targetByName.set(name, gatewayTarget(name, g.config, g.upstreams, g.requires, cli));
      runnable.splice(runnable.indexOf(s) + 1, 0, { ...s, name: `${s.name}~base`, target: name, description: `${s.description} (baseline ${args.baseline})` });
    }
  }

  // Start everything first (concurrently), so that no start-up (tsx compiling, ONNX
  // loading) overlaps a measurement.
  const failed = new Map<string, string>();
  await Promise.all(
    [...new Set(runnable.map((s) => s.target))].map((name) =>
      start(targetByName.get(name)!).catch((err: Error) => failed.set(name, err.message.split('\n')[0])),
    ),
  );
  for (const s of [...runnable]) {
    const why = failed.get(s.target);
    if (why === undefined) continue;
    runnable.splice(runnable.indexOf(s), 1);
    skipped.push({ name: s.name, why: `${s.target} did not start: ${why}` });
  }

  log(`bench: warm-up (${settings.warmupRequests} requests or ${settings.warmupMaxS} s each)`);
  for (const s of runnable) await measure(s, 120, settings.warmupRequests, settings.warmupMaxS);

  const runs = new Map<string, Run[]>(runnable.map((s) => [s.name, []]));
  for (let round = 1; round <= settings.rounds; round++) {
    // A/B pairs swap places every other round, so that neither side always goes first.
    const order = round % 2 === 0 ? swapPairs(runnable) : runnable;
    for (const s of order) {
      const r = await measure(s, settings.durationS);
      runs.get(s.name)!.push(r);
      log(`bench: round ${round}/${settings.rounds} ${s.name.padEnd(26)} ${Math.round(r.load.rps).toString().padStart(6)} req/s  ${(r.cpuMicros / Math.max(1, r.load.requests)).toFixed(0).padStart(5)} us/req  ${r.load.errors} errors`);
    }
  }

  const results = runnable.map((s) => summarize(s, runs.get(s.name)!));

  // Streaming latency as a client feels it: interleaved too, one probe batch per round.
  const streamed = runnable.filter((s) => s.stream);
  if (streamed.length) {
    const ttfb = new Map<string, number[][]>(streamed.map((s) => [s.name, [[], []]]));
    for (let round = 1; round <= settings.rounds; round++) {
      for (const s of streamed) {
        const p = await probeStream({
          url: started.get(s.target)!.url,
          path: s.path,
          headers: { ...headersOf(s), ...PROBE_DELAY_HEADERS },
          body: s.body,
          requests: Math.ceil(settings.probeRequests / settings.rounds),
          concurrency: 4,
        });
        ttfb.get(s.name)![0].push(...p.ttfb);
        ttfb.get(s.name)![1].push(...p.total);
        if (p.errors) results.find((x) => x.name === s.name)!.errors += p.errors;
      }
    }
    for (const s of streamed) {
      const [first, total] = ttfb.get(s.name)!.map((xs) => Float64Array.from(xs).sort());
      const res = results.find((x) => x.name === s.name)!;
      const r3 = (v: number) => Math.round(v * 1000) / 1000;
      res.ttfbP50Ms = r3(quantile(first, 0.5));
      res.ttfbP99Ms = r3(quantile(first, 0.99));
      res.streamTotalP50Ms = r3(quantile(total, 0.5));
      res.streamTotalP99Ms = r3(quantile(total, 0.99));
    }
  }
  await stopAll();

  const result: BenchResult = {
    machine,
    scenarios: results,
    ...derive(results),
    skipped,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date().toISOString(),
    settings,
    loadAverageEnd: Math.round(loadavg()[0] * 100) / 100,
  } as BenchResult;
  // The fixed shape first, extras after, so the file reads in the order of the issue.
  const ordered = {
    machine: result.machine,
    scenarios: result.scenarios,
    ratios: result.ratios,
    skipped: result.skipped,
    command: result.command,
    date: result.date,
    settings: result.settings,
    loadAverageEnd: result.loadAverageEnd,
    overheadsMs: result.overheadsMs,
    cpuPerKbUs: result.cpuPerKbUs,
    stageCpuUs: result.stageCpuUs,
    goals: result.goals,
  };
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(ordered, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), renderMarkdown(result));
  const bars = (f: (s: ScenarioResult) => number) =>
    results.filter((s) => s.group !== 'fixed-rate').map((s) => ({ label: s.name, value: f(s), group: s.group }));
  writeFileSync(
    join(dir, 'latest.svg'),
    barChart(
      `palisade bench (${quick ? 'quick' : 'full'}), ${machine.cores} cores, ${result.date.slice(0, 10)}`,
      { title: 'Throughput', unit: 'req/s', bars: bars((s) => s.rps) },
      { title: 'CPU of the measured process', unit: 'us per request', bars: bars((s) => s.cpuUsPerReq) },
      `${result.command} @ ${machine.commit}`,
    ),
  );
  if (args.save) {
    for (const ext of ['json', 'md', 'svg']) copyFileSync(join(dir, `latest.${ext}`), join(dir, `${args.save}.${ext}`));
    writeFileSync(join(dir, `${args.save}.md`), renderMarkdown(result).replace('(latest.svg)', `(${args.save}.svg)`).replace('[latest.svg]', `[${args.save}.svg]`));
  }
  log(`bench: done in ${Math.round((Date.now() - t0) / 1000)} s; wrote bench/results/latest.{json,md,svg}${args.save ? ` and ${args.save}.*` : ''}`);
  for (const g of result.goals) log(`  ${g.met === null ? 'n/a ' : g.met ? 'MET ' : 'MISS'} ${g.goal}: ${g.value ?? '-'} (${g.target})`);
}

main().catch(async (err) => {
  log(`bench: ${(err as Error).stack}`);
  for (const p of started.values()) log(`--- ${p.name} ---\n${p.log()}`);
  await stopAll();
  process.exit(1);
});
