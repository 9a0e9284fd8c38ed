/**
 * The result of a bench run: latest.json in the shape the issue fixes (machine,
 * scenarios[{name, rps, p50Ms, p90Ms, p99Ms, errors}], ratios, skipped), with extra
 * fields beside them, and the markdown report rendered from it.
 */
import type { Machine } from './machine.js';

export interface ScenarioResult {
  name: string;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  errors: number;
  // Beyond the fixed shape:
  description: string;
  group: string;
  /** Requests answered 2xx over all rounds. */
  requests: number;
  /** CPU time (user + system) of the measured process per request, microseconds. */
  cpuUsPerReq: number;
  /** req/s of each round (rps is their median). */
  roundsRps: number[];
  /** CPU us/req of each round. */
  roundsCpuUsPerReq: number[];
  rate?: number;
  promptKb?: number;
  ttfbP50Ms?: number;
  ttfbP99Ms?: number;
  streamTotalP50Ms?: number;
  streamTotalP99Ms?: number;
}

export interface Goal {
  goal: string;
  value: number | null;
  target: string;
  met: boolean | null;
}

export interface BenchResult {
  machine: Machine;
  scenarios: ScenarioResult[];
  ratios: Record<string, number>;
  skipped: { name: string; why: string }[];
  // Beyond the fixed shape:
  command: string;
  date: string;
  settings: { quick: boolean; rounds: number; durationS: number; warmupRequests: number; warmupMaxS: number; probeRequests: number; pinned?: boolean };
  /** 1-minute load average when the run ended (machine.loadAverage1m is at start). */
  loadAverageEnd: number;
  overheadsMs: Record<string, number>;
  cpuPerKbUs: Record<string, number>;
  /** CPU us per request each stage adds over passthrough, measured alone (the one-stage scenarios) and all together. */
  stageCpuUs: Record<string, number>;
  goals: Goal[];
}

const r3 = (v: number) => Math.round(v * 1000) / 1000;

/** Ratios, overheads, per-KB costs and goals, from the scenario results. */
/** The stage-cost rows: key in `stageCpuUs`, the scenario measured. */
const STAGE_SCENARIOS: readonly (readonly [string, string])[] = [
  ['auth', 'auth-only'],
  ['limits', 'limits-memory'],
  ['detector', 'detector-only'],
  ['defense', 'defense-only'],
  ['chainNoDefense', 'chain-no-defense'],
  ['fullChain', 'full-chain'],
];

export function derive(scenarios: ScenarioResult[]): Pick<BenchResult, 'ratios' | 'overheadsMs' | 'cpuPerKbUs' | 'stageCpuUs' | 'goals'> {
  const by = new Map(scenarios.map((s) => [s.name, s]));
  const ratios: Record<string, number> = {};
  const rpsRatio = (key: string, a: string, b: string) => {
    const x = by.get(a);
    const y = by.get(b);
    if (x && y && y.rps > 0) ratios[key] = r3(x.rps / y.rps);
  };
  const cpuRatio = (key: string, a: string, b: string) => {
    const x = by.get(a);
    const y = by.get(b);
    if (x && y && y.cpuUsPerReq > 0) ratios[key] = r3(x.cpuUsPerReq / y.cpuUsPerReq);
  };
  rpsRatio('passthroughVsDirect', 'passthrough', 'direct');
  rpsRatio('passthroughVsFastifyProxy', 'passthrough', 'fastify-proxy');
  rpsRatio('passthroughVsNodeProxy', 'passthrough', 'node-proxy');
  rpsRatio('passthroughVsNginx', 'passthrough', 'nginx');
  rpsRatio('fastifyProxyVsDirect', 'fastify-proxy', 'direct');
  rpsRatio('nginxVsDirect', 'nginx', 'direct');
  rpsRatio('fullChainVsPassthrough', 'full-chain', 'passthrough');
  rpsRatio('fullChainVsFastifyProxy', 'full-chain', 'fastify-proxy');
  rpsRatio('fullChainVsDirect', 'full-chain', 'direct');
  rpsRatio('chainNoDefenseVsPassthrough', 'chain-no-defense', 'passthrough');
  rpsRatio('chainNoDefenseVsFastifyProxy', 'chain-no-defense', 'fastify-proxy');
  rpsRatio('kserveFullChainVsPassthrough', 'kserve-full-chain', 'kserve-passthrough');
  rpsRatio('sseFullChainVsPassthrough', 'sse-full-chain', 'sse-passthrough');
  rpsRatio('ssePassthroughVsDirect', 'sse-passthrough', 'sse-direct');
  rpsRatio('kservePassthroughVsDirect', 'kserve-passthrough', 'kserve-direct');
  rpsRatio('kserveTensorDetectorVsPassthrough', 'kserve-tensor-detector', 'kserve-passthrough');
  rpsRatio('limitsRedisVsMemory', 'limits-redis', 'limits-memory');
  cpuRatio('passthroughCpuVsFastifyProxy', 'passthrough', 'fastify-proxy');
  cpuRatio('passthroughCpuVsNodeProxy', 'passthrough', 'node-proxy');
  cpuRatio('passthroughCpuVsNginx', 'passthrough', 'nginx');
  cpuRatio('fullChainCpuVsPassthrough', 'full-chain', 'passthrough');
  cpuRatio('fullChainCpuVsFastifyProxy', 'full-chain', 'fastify-proxy');
  cpuRatio('limitsRedisCpuVsMemory', 'limits-redis', 'limits-memory');
  cpuRatio('chainNoDefenseCpuVsPassthrough', 'chain-no-defense', 'passthrough');
  cpuRatio('chainNoDefenseCpuVsFastifyProxy', 'chain-no-defense', 'fastify-proxy');

  const overheadsMs: Record<string, number> = {};
  const diff = (key: string, a: string, b: string, field: keyof ScenarioResult) => {
    const x = by.get(a)?.[field];
    const y = by.get(b)?.[field];
    if (typeof x === 'number' && typeof y === 'number') overheadsMs[key] = r3(x - y);
  };
  diff('passthroughP99AddedAt500', 'passthrough@500', 'direct@500', 'p99Ms');
  diff('nginxP99AddedAt500', 'nginx@500', 'direct@500', 'p99Ms');
  diff('nodeProxyP99AddedAt500', 'node-proxy@500', 'direct@500', 'p99Ms');
  diff('fullChainP99OverPassthroughAt500', 'full-chain@500', 'passthrough@500', 'p99Ms');
  diff('passthroughP50AddedAt500', 'passthrough@500', 'direct@500', 'p50Ms');
  diff('fullChainP99AddedAt500', 'full-chain@500', 'direct@500', 'p99Ms');
  diff('fullChainP50AddedAt500', 'full-chain@500', 'direct@500', 'p50Ms');
  diff('chainNoDefenseP99AddedAt500', 'chain-no-defense@500', 'direct@500', 'p99Ms');
  diff('chainNoDefenseP50AddedAt500', 'chain-no-defense@500', 'direct@500', 'p50Ms');
  diff('sseTtfbP50AddedChainNoDefense', 'sse-chain-no-defense', 'sse-direct', 'ttfbP50Ms');
  diff('sseTtfbP50AddedPassthrough', 'sse-passthrough', 'sse-direct', 'ttfbP50Ms');
  diff('sseTtfbP99AddedPassthrough', 'sse-passthrough', 'sse-direct', 'ttfbP99Ms');
  diff('sseTotalP50AddedPassthrough', 'sse-passthrough', 'sse-direct', 'streamTotalP50Ms');
  diff('sseTtfbP50AddedFullChain', 'sse-full-chain', 'sse-direct', 'ttfbP50Ms');
  diff('sseTotalP50AddedFullChain', 'sse-full-chain', 'sse-direct', 'streamTotalP50Ms');

  // Cost per KB of prompt: least-squares slope of CPU per request over prompt size.
  const cpuPerKbUs: Record<string, number> = {};
  for (const kind of ['passthrough', 'detector']) {
    const pts = scenarios.filter((s) => s.promptKb !== undefined && s.name.endsWith(`-${kind}`)).map((s) => [s.promptKb!, s.cpuUsPerReq]);
    if (pts.length >= 2) cpuPerKbUs[kind] = Math.round(slope(pts) * 10) / 10;
  }

  // What each stage of the full chain costs: CPU per request over passthrough, with the
  // stage alone (each such config also parses the body and runs the pipeline) and with all.
  const stageCpuUs: Record<string, number> = {};
  const pass = by.get('passthrough');
  if (pass && pass.cpuUsPerReq > 0) {
    for (const [key, name] of STAGE_SCENARIOS) {
      const s = by.get(name);
      if (s && s.cpuUsPerReq > 0) stageCpuUs[key] = Math.round((s.cpuUsPerReq - pass.cpuUsPerReq) * 10) / 10;
    }
  }

  const goal = (text: string, value: number | undefined, target: string, ok: (v: number) => boolean): Goal => ({
    goal: text,
    value: value ?? null,
    target,
    met: value === undefined ? null : ok(value),
  });
  const goals = [
    goal('passthrough throughput / @fastify/http-proxy', ratios.passthroughVsFastifyProxy, '>= 0.9', (v) => v >= 0.9),
    goal('full chain throughput / passthrough', ratios.fullChainVsPassthrough, '>= 0.85', (v) => v >= 0.85),
    goal('p99 added by the full chain over direct at 500 req/s (ms)', overheadsMs.fullChainP99AddedAt500, '<= 1', (v) => v <= 1),
    goal('full chain throughput / @fastify/http-proxy (stretch)', ratios.fullChainVsFastifyProxy, '>= 1.0', (v) => v >= 1),
  ];
  // When the full chain could not run (a stage missing), the same goals for the chain
  // without output defenses, marked as such (beside, never instead of, the full-chain rows).
  if (!by.has('full-chain') && by.has('chain-no-defense')) {
    goals.push(
      goal('interim: chain without output defenses throughput / passthrough', ratios.chainNoDefenseVsPassthrough, '>= 0.85', (v) => v >= 0.85),
      goal('interim: p99 added by the chain without output defenses at 500 req/s (ms)', overheadsMs.chainNoDefenseP99AddedAt500, '<= 1', (v) => v <= 1),
      goal('interim: chain without output defenses throughput / @fastify/http-proxy', ratios.chainNoDefenseVsFastifyProxy, '>= 1.0', (v) => v >= 1),
    );
  }
  return { ratios, overheadsMs, cpuPerKbUs, stageCpuUs, goals };
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function slope(pts: number[][]): number {
  const n = pts.length;
  const mx = pts.reduce((a, p) => a + p[0], 0) / n;
  const my = pts.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const f1 = (v: number | undefined) => (v === undefined ? '' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined ? '' : v.toFixed(2));

/** The markdown report. */
export function renderMarkdown(r: BenchResult): string {
  const direct = r.scenarios.find((s) => s.name === 'direct');
  const lines: string[] = [];
  lines.push(`# palisade bench: ${r.settings.quick ? 'quick smoke run' : 'full run'}`, '');
  lines.push(`Command: \`${r.command}\`  `);
  lines.push(`Date: ${r.date}, commit ${r.machine.commit}  `);
  lines.push(
    `Machine: ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memGb} GB, ${r.machine.os} ${r.machine.kernel}, node ${r.machine.node}, autocannon ${r.machine.autocannon}, ${r.machine.nginx ?? 'no nginx'}; load average at start ${r.machine.loadAverage1m}  `,
  );
  if (r.loadAverageEnd > r.machine.cores || r.machine.loadAverage1m > r.machine.cores) {
    lines.push(
      `**The machine was busy** (load average ${r.machine.loadAverage1m} at start, ${r.loadAverageEnd} at the end, on ${r.machine.cores} cores): other work shared the CPUs, so absolute req/s are low and noisy; the ratios of interleaved scenarios and CPU per request hold better.  `,
    );
  }
  lines.push(
    `Method: every process is separate (load generator, upstream, proxy); ${r.settings.rounds} interleaved rounds (A B C ... A B C ...) of ${r.settings.durationS} s per scenario after a warm-up of ${r.settings.warmupRequests} requests (at most ${r.settings.warmupMaxS} s) each; req/s is the median of the rounds; latencies are percentiles over all rounds (2xx only, float ms); CPU is user + system time of the measured process (/proc/PID/stat) divided by the requests it answered.${r.settings.pinned ? ' **Pinned (--pin):** each proxy ran alone on CPU 1, the upstreams and the load generator on CPU 0.' : ''}`,
    '',
  );
  lines.push('## Goals', '', '| goal | value | target | met |', '|---|---|---|---|');
  for (const g of r.goals) lines.push(`| ${g.goal} | ${g.value === null ? 'n/a' : g.value} | ${g.target} | ${g.met === null ? 'not measured (skipped)' : g.met ? 'yes' : 'no'} |`);
  lines.push('');
  const groups: [string, string][] = [
    ['proxy', 'Proxies, same small chat request (32-byte prompt, 16 tokens back), 32 connections'],
    ['full-chain', 'Full security chain'],
    ['fixed-rate', 'Fixed 500 req/s (latency, not throughput)'],
    ['sse', 'Streaming (SSE)'],
    ['tensor', 'Tensor requests (KServe v2, one 28x28 image)'],
    ['long-prompt', 'Long prompts'],
    ['limits', 'Limits: memory vs Redis'],
  ];
  for (const [g, title] of groups) {
    const rows = r.scenarios.filter((s) => s.group === g);
    if (rows.length === 0) continue;
    lines.push(`## ${title}`, '');
    const sse = g === 'sse';
    lines.push(
      `| scenario | req/s | vs direct | p50 ms | p90 ms | p99 ms | errors | CPU us/req |${sse ? ' TTFB p50 | TTFB p99 | total p50 | total p99 |' : ''}`,
      `|---|---:|---:|---:|---:|---:|---:|---:|${sse ? '---:|---:|---:|---:|' : ''}`,
    );
    const base = g === 'sse' ? r.scenarios.find((s) => s.name === 'sse-direct') : g === 'tensor' ? r.scenarios.find((s) => s.name === 'kserve-direct') : direct;
    for (const s of rows) {
      const vs = base && g !== 'fixed-rate' ? (s.rps / base.rps).toFixed(2) : '';
      lines.push(
        `| ${s.name} | ${Math.round(s.rps)} | ${vs} | ${f2(s.p50Ms)} | ${f2(s.p90Ms)} | ${f2(s.p99Ms)} | ${s.errors} | ${Math.round(s.cpuUsPerReq)} |${sse ? ` ${f2(s.ttfbP50Ms)} | ${f2(s.ttfbP99Ms)} | ${f2(s.streamTotalP50Ms)} | ${f2(s.streamTotalP99Ms)} |` : ''}`,
      );
    }
    if (g === 'fixed-rate') lines.push('', 'An open loop, evenly paced (bench/lib/paced.ts): request i is due at i/rate and its latency counts from then, so a stall shows in full; not autocannon, whose rate arrives as one burst a second.');
    if (sse) lines.push('', 'TTFB and total: a separate probe at concurrency 4 with a 2 ms pause between tokens (what a client feels); req/s and p50-p99: autocannon as for the others (no pause).');
    if (g === 'full-chain' && Object.keys(r.stageCpuUs ?? {}).length) {
      const pass = r.scenarios.find((s) => s.name === 'passthrough');
      lines.push(
        '',
        `CPU per request each stage adds over passthrough (${pass ? Math.round(pass.cpuUsPerReq) : '?'} us), alone and together: ${Object.entries(r.stageCpuUs).map(([k, v]) => `${k} +${f1(v)} us`).join(', ')}. ` +
          'Each one-stage config also routes by the body (a JSON parse) and runs the pipeline, so the stages alone add up to more than the chain.',
      );
    }
    if (g === 'long-prompt' && Object.keys(r.cpuPerKbUs).length) {
      lines.push('', `CPU per KB of prompt (least-squares slope): ${Object.entries(r.cpuPerKbUs).map(([k, v]) => `${k} ${f1(v)} us/KB`).join(', ')}.`);
    }
    lines.push('');
  }
  const base = r.scenarios.filter((s) => s.name.endsWith('~base'));
  if (base.length) {
    lines.push(
      '## A/B against the baseline build',
      '',
      'Each round runs the two builds back to back (order swapped every other round); a change is the median over rounds of the paired ratio, which cancels the drift of a shared machine better than the totals do.',
      '',
      '| scenario | req/s | req/s base | CPU us/req | CPU us/req base | CPU change (median paired) | req/s change (median paired) |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    for (const b of base) {
      const a = r.scenarios.find((s) => s.name === b.name.slice(0, -5));
      if (!a) continue;
      const pct = (xs: number[], ys: number[]) => `${((medianOf(xs.map((x, i) => x / ys[i])) - 1) * 100).toFixed(1)}%`;
      lines.push(
        `| ${a.name} | ${Math.round(a.rps)} | ${Math.round(b.rps)} | ${Math.round(a.cpuUsPerReq)} | ${Math.round(b.cpuUsPerReq)} | ${pct(a.roundsCpuUsPerReq, b.roundsCpuUsPerReq)} | ${pct(a.roundsRps, b.roundsRps)} |`,
      );
    }
    lines.push('');
  }
  lines.push('## Ratios', '', '| ratio | value |', '|---|---:|');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`| ${k} | ${v} |`);
  if (Object.keys(r.overheadsMs).length) {
    lines.push('', '| latency added | ms |', '|---|---:|');
    for (const [k, v] of Object.entries(r.overheadsMs)) lines.push(`| ${k} | ${v} |`);
  }
  lines.push('', '## Skipped', '');
  if (r.skipped.length === 0) lines.push('Nothing.');
  for (const s of r.skipped) lines.push(`- **${s.name}**: ${s.why}`);
  lines.push('', `Chart: [latest.svg](latest.svg)`, '');
  return lines.join('\n');
}
