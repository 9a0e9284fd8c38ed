/**
 * Benchmark of the limit stage per request (request hook + done hook), with memory
 * counters and with Redis counters, for one limit and for all four kinds. Not a test:
 * numbers depend on the machine; results are recorded in bench/results/limits.md.
 *
 * Run: npm run bench:limits [-- --redis redis://127.0.0.1:6379] [--n 20000] [--rounds 3]
 *
 * Redis is measured both ways in the same run (an A/B): one round trip per counter (the
 * library's script per limiter, `LimiterRegistry({ batch: false })`) and one script per
 * request (`LimiterRegistry.consumeAll`, the default).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfigText } from '../src/config/load.js';
import { createLimiterRegistry, LimiterRegistry } from '../src/limits/limiters.js';
import { createLimitStage } from '../src/limits/stage.js';
import type { RequestContext } from '../src/pipeline/context.js';
import type { Stage } from '../src/pipeline/stage.js';
import { ADAPTERS } from '../src/protocols/index.js';
import type { ModelRuntime } from '../src/runtime.js';
import { silentLogger, type Services } from '../src/services.js';
import { FailoverStore } from '../src/state/failover.js';
import { MemoryStore } from '../src/state/memory.js';
import { RedisStore } from '../src/state/redis.js';

const { values } = parseArgs({ options: { redis: { type: 'string', default: 'redis://127.0.0.1:6379' }, n: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } } });
const N = Number(values.n);
const KEYS = 1000;
const CONCURRENCY = 64;

const PROFILES: Record<string, string> = {
  'requests only': 'requests: { rate: 1000000/m }',
  'requests+burst, tokens, concurrency, queries':
    'requests: { rate: 1000000/m, burst: 1000/h }, tokens: { rate: 1000000000/m }, concurrency: { max: 10000 }, queries: { perDay: 100000000 }',
};

function stageFor(limits: string, services: Services): Stage {
  const r = loadConfigText(
    `upstreams: { llm: { protocol: openai, url: "http://127.0.0.1:9" } }
models: [{ name: m, upstream: llm, limits: { ${limits} } }]`,
    '/bench.yaml',
  );
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return createLimitStage(r.loaded, services)!;
}

function contexts(): RequestContext[] {
  const adapter = ADAPTERS.openai;
  const model = { name: 'm', config: {}, upstream: undefined, adapter, upstreamModel: 'm', bodyLimit: 1 << 20 } as unknown as ModelRuntime;
  const route = { protocol: 'openai' as const, operation: 'chat', upstreamPath: '/v1/chat/completions', query: '' };
  const body = { model: 'm', messages: [{ role: 'user', content: 'Summarize the attached report in three sentences.' }], max_tokens: 256 };
  const request = adapter.parseRequest({ route, model: 'm', upstreamModel: 'm', body });
  return Array.from({ length: KEYS }, (_, i) => {
    const addr = `198.51.100.${i % 250}:${i}`;
    return {
      id: String(i), startedAt: 0, receivedAt: 0,
      http: { method: 'POST', url: '/', path: '/', headers: {}, remoteAddress: addr, clientAddress: addr },
      route, model, body, request, notes: [], signal: new AbortController().signal, locals: {},
    } as RequestContext;
  });
}

const outcome = { status: 200, upstreamStatus: 200, usage: { inputTokens: 12, outputTokens: 200 }, durationMs: 1 };

async function once(stage: Stage, ctx: RequestContext): Promise<void> {
  ctx.locals.limit = undefined;
  const d = await stage.request!(ctx);
  if (!d.allow) throw new Error(`refused: ${d.code}`);
  stage.done!(ctx, outcome);
}

async function measure(stage: Stage, ctxs: RequestContext[], n: number): Promise<{ usPerOp: number; opsPerSec: number }> {
  for (let i = 0; i < 2000; i++) await once(stage, ctxs[i % KEYS]);
  let t = performance.now();
  for (let i = 0; i < n; i++) await once(stage, ctxs[i % KEYS]);
  const usPerOp = ((performance.now() - t) * 1000) / n;
  // Concurrent: CONCURRENCY requests in flight (what a busy gateway does; Redis pipelines them).
  let next = 0;
  t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) {
        const i = next++;
        // Each worker its own contexts: locals are per request.
        await once(stage, { ...ctxs[i % KEYS], locals: {} });
      }
    }),
  );
  const opsPerSec = n / ((performance.now() - t) / 1000);
  return { usPerOp, opsPerSec };
}

type Variant = 'memory' | 'redis, one round trip per counter' | 'redis, one script per request';
const VARIANTS: Variant[] = ['memory', 'redis, one round trip per counter', 'redis, one script per request'];
const ROUNDS = Number(values.rounds);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const ctxs = contexts();
  const prefix = `palisade-bench:${process.pid}:`;
  const state = new FailoverStore(new RedisStore({ url: values.redis!, keyPrefix: prefix, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }), new MemoryStore(), 'local', silentLogger);
  const redisUp = await state.waitReady(2000);
  const services: Record<Variant, Services> = {
    memory: { logger: silentLogger, observer: {}, state: new MemoryStore(), limiters: new LimiterRegistry() },
    // The A/B: the same Redis limiters, taken one call per counter (before) or all in one script.
    'redis, one round trip per counter': { logger: silentLogger, observer: {}, state, limiters: new LimiterRegistry({ redis: state.redis.client, batch: false }) },
    'redis, one script per request': { logger: silentLogger, observer: {}, state, limiters: createLimiterRegistry(state) },
  };
  const rows: string[] = [];
  for (const [name, limits] of Object.entries(PROFILES)) {
    // Rounds interleave the variants, so that load changes hit all of them alike; medians.
    const seq: Record<string, number[]> = {};
    const ops: Record<string, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const v of VARIANTS) {
        if (v !== 'memory' && !redisUp) continue;
        const stage = stageFor(limits, services[v]);
        const n = v === 'memory' ? N : Math.max(2000, Math.floor(N / 4));
        const r = await measure(stage, ctxs, n);
        (seq[v] ??= []).push(r.usPerOp);
        (ops[v] ??= []).push(r.opsPerSec);
        await stage.close?.();
      }
    }
    for (const v of VARIANTS) {
      if (!seq[v]) rows.push(`| ${v} | ${name} | (Redis does not answer at ${values.redis}) | |`);
      else rows.push(`| ${v} | ${name} | ${median(seq[v]).toFixed(1)} | ${Math.round(median(ops[v]))} |`);
    }
  }
  if (redisUp) {
    const c = state.redis.client;
    const keys = await c.keys(`${prefix}*`);
    // keys() returns prefixed names; del() would prefix again, so strip it.
    for (let i = 0; i < keys.length; i += 1000) await c.del(...keys.slice(i, i + 1000).map((k) => k.slice(prefix.length)));
  }
  await state.close();
  process.stdout.write(
    `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${ROUNDS} interleaved rounds, medians\n\n` +
      `| counters | limits per request | sequential µs/op | ops/s at ${CONCURRENCY} in flight |\n|---|---|---|---|\n${rows.join('\n')}\n`,
  );
}

await main();
