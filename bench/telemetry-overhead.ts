/**
 * What telemetry adds per request on the hot path: the real runner with five no-op
 * stages, driven as the HTTP shell drives it (runRequest, upstream start/end, done),
 * without an observer and with Telemetry in three set-ups, each in its own process.
 * Prints µs per request (set N to change the count).
 *
 *   npm run bench:telemetry
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configSchema } from '../src/config/schema.js';
import type { RequestContext } from '../src/pipeline/context.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import type { Stage, StageObserver } from '../src/pipeline/stage.js';
import { ALLOW } from '../src/pipeline/types.js';
import type { ModelRuntime } from '../src/runtime.js';
import { silentLogger } from '../src/services.js';
import { generateSigningKey } from '../src/telemetry/audit/keys.js';
import { Telemetry } from '../src/telemetry/telemetry.js';
import type { tracing as sdk } from '@opentelemetry/sdk-node';

const N = Number(process.env.N ?? 100_000);
const stages: Stage[] = ['identify', 'authorize', 'parse', 'limit', 'inspect'].map((name) => ({ name, request: () => ALLOW }));
const model = {
  name: 'demo-llm',
  config: { name: 'demo-llm', upstream: 'llm' },
  upstream: { name: 'llm', origin: 'http://127.0.0.1:8000', config: { url: 'http://127.0.0.1:8000', protocol: 'openai' } },
} as unknown as ModelRuntime;

function ctx(i: number): RequestContext {
  return {
    id: `r${i}`,
    startedAt: performance.now(),
    receivedAt: Date.now(),
    http: { method: 'POST', url: '/v1/chat/completions', path: '/v1/chat/completions', headers: {}, remoteAddress: '127.0.0.1', clientAddress: '127.0.0.1' },
    route: { protocol: 'openai', operation: 'chat', upstreamPath: '/v1/chat/completions', query: '' },
    model,
    body: undefined,
    request: { protocol: 'openai', model: 'demo-llm', operation: 'chat', texts: [{ role: 'user', text: 'hello '.repeat(50), path: 'messages[0].content' }], tensors: [], params: { stream: false }, body: {} },
    notes: [],
    signal: new AbortController().signal,
    locals: {},
  };
}

async function run(label: string, observer: StageObserver): Promise<void> {
  const p = new Pipeline(stages, observer);
  const loop = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const c = ctx(i);
      await p.runRequest(c);
      const h: Record<string, string | string[]> = {};
      p.upstreamStart(c, h);
      p.upstreamEnd(c, 200);
      p.done(c, { status: 200, upstreamStatus: 200, usage: { inputTokens: 50, outputTokens: 20 }, durationMs: 3 });
      if ((i & 1023) === 0) await new Promise((r) => setImmediate(r)); // let the audit writer run
    }
  };
  await loop(N / 10); // warm-up
  const t0 = performance.now();
  await loop(N);
  const us = ((performance.now() - t0) * 1000) / N;
  console.log(`${label.padEnd(44)} ${us.toFixed(2)} µs/request`);
}

const SETUPS: Record<string, object | undefined> = {
  'no observer': undefined,
  metrics: { metrics: { process: false } },
  'metrics + audit (fsync interval)': { metrics: { process: false }, audit: { signingKey: '' } },
  'metrics + audit + tracing (sampled, exported nowhere)': { metrics: { process: false }, tracing: { enabled: true }, audit: { signingKey: '' } },
};

const only = process.env.BENCH_SETUP;
if (only === undefined) {
  // Each set-up in its own process: one observer shape per process, as in production
  // (sharing one process makes the runner's call sites polymorphic and skews the later runs).
  for (const label of Object.keys(SETUPS)) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_SETUP: label }, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
  try {
    const cfg = SETUPS[only] as { audit?: { signingKey: string; dir?: string } } | undefined;
    if (!cfg) await run(only, {});
    else {
      if (cfg.audit) cfg.audit = { dir: join(dir, 'audit'), signingKey: generateSigningKey(join(dir, 'k.pem')).privateFile };
      const discard: sdk.SpanExporter = { export: (_s, done) => done({ code: 0 }), shutdown: async () => {} };
      const t = await Telemetry.create(configSchema.shape.telemetry.parse(cfg), { resolvePath: (p) => p, logger: silentLogger, spanExporter: discard });
      await run(only, t);
      await t.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
