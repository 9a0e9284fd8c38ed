import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LimiterRegistry, createLimiterRegistry } from '../../src/limits/limiters.js';
import { createLimitStage, SCALE } from '../../src/limits/stage.js';
import { utcDay } from '../../src/limits/keys.js';
import { riskKey } from '../../src/limits/risk.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { Stage } from '../../src/pipeline/stage.js';
import type { Decision, InferenceResponse, Outcome } from '../../src/pipeline/types.js';
import { silentLogger, type Services } from '../../src/services.js';
import { FailoverStore } from '../../src/state/failover.js';
import { MemoryStore } from '../../src/state/memory.js';
import { RedisStore } from '../../src/state/redis.js';
import { loadYaml, openaiCtx, principal } from '../helpers/context.js';
import { cleanup, keyPrefix, REDIS_SKIP, REDIS_URL } from '../helpers/redis.js';

const HEAD = `
upstreams:
  llm: { protocol: openai, url: "http://127.0.0.1:9" }
`;

type Backend = 'memory' | 'redis';

interface Rig {
  services: Services;
  stage(yaml: string): Stage;
  close(): Promise<void>;
}

async function rig(backend: Backend): Promise<Rig> {
  const stages: Stage[] = [];
  let services: Services;
  let prefix = '';
  if (backend === 'memory') {
    const state = new MemoryStore();
    services = { logger: silentLogger, observer: {}, state, limiters: new LimiterRegistry() };
  } else {
    prefix = keyPrefix('stage');
    const state = new FailoverStore(
      new RedisStore({ url: REDIS_URL, keyPrefix: prefix, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }),
      new MemoryStore(),
      'local',
      silentLogger,
    );
    assert.ok(await state.waitReady(2000));
    services = { logger: silentLogger, observer: {}, state, limiters: createLimiterRegistry(state) };
  }
  return {
    services,
    stage(yaml) {
      const s = createLimitStage(loadYaml(HEAD + yaml), services)!;
      stages.push(s);
      return s;
    },
    async close() {
      for (const s of stages) await s.close?.();
      await services.state.close();
      if (prefix) await cleanup(prefix);
    },
  };
}

const OK_OUTCOME: Outcome = { status: 200, upstreamStatus: 200, durationMs: 1 };

async function run(stage: Stage, ctx: RequestContext): Promise<Decision> {
  return stage.request!(ctx);
}

/** The headers an allow decision asks for on the client's response. */
function headersOf(d: Decision): Record<string, string> | undefined {
  return d.allow ? d.headers : undefined;
}

function denied(d: Decision): Extract<Decision, { allow: false }> {
  assert.equal(d.allow, false, 'expected a refusal');
  return d as Extract<Decision, { allow: false }>;
}

/** Lets fire-and-forget rewards and penalties (done hooks) reach the store. */
const settle = () => new Promise((r) => setTimeout(r, 50));

function retryAfter(d: Extract<Decision, { allow: false }>): number {
  return Number(d.headers!['retry-after']);
}

for (const backend of ['memory', 'redis'] as const) {
  const skip = backend === 'redis' ? REDIS_SKIP : false;

  test(`${backend}: requests are refused exactly past the limit, with Retry-After and RateLimit headers`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const stage = r.stage(`
models:
  - name: m
    upstream: llm
    limits: { requests: { rate: 3/m } }
`);
      const loaded = loadYaml(HEAD + 'models: [{name: m, upstream: llm}]');
      for (let i = 0; i < 3; i++) {
        const ctx = openaiCtx(loaded);
        const d = await run(stage, ctx);
        assert.equal(d.allow, true, `request ${i + 1}`);
        // Admitted responses say what is left.
        const h = headersOf(d);
        assert.equal(h?.['ratelimit-policy'], '"model.m.requests";q=3;w=60');
        const m = new RegExp(`^"model\\.m\\.requests";r=${2 - i};t=(\\d+)$`).exec(h?.ratelimit ?? '');
        assert.ok(m && Number(m[1]) >= 1 && Number(m[1]) <= 60, `ratelimit: ${h?.ratelimit}`);
      }
      const d = denied(await run(stage, openaiCtx(loaded)));
      assert.equal(d.code, 'PALISADE_RATE_LIMITED');
      const ra = retryAfter(d);
      assert.ok(ra >= 1 && ra <= 60, `retry-after ${ra}`);
      assert.equal(d.headers!['ratelimit-policy'], '"model.m.requests";q=3;w=60');
      assert.equal(d.headers!.ratelimit, `"model.m.requests";r=0;t=${ra}`);
      assert.deepEqual(
        d.notes?.map((n) => [n.stage, n.kind, n.name, n.detail?.code]),
        [['limit', 'rate-limited', 'model.m.requests', 'PALISADE_RATE_LIMITED']],
      );
      // Another client has its own counter.
      assert.equal((await run(stage, openaiCtx(loaded, { clientAddress: '192.0.2.2' }))).allow, true);
    } finally {
      await r.close();
    }
  });

  test(`${backend}: a burst allowance admits that many more, then refuses naming both policies`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm }]
limits:
  rules:
    - { name: chat, requests: { rate: 2/m, burst: 2/10m } }
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      for (let i = 0; i < 4; i++) assert.equal((await run(stage, openaiCtx(loaded))).allow, true, `request ${i + 1}`);
      const d = denied(await run(stage, openaiCtx(loaded)));
      assert.equal(d.code, 'PALISADE_RATE_LIMITED');
      assert.equal(d.headers!['ratelimit-policy'], '"chat.requests";q=2;w=60, "chat.burst";q=2;w=600');
      assert.match(d.headers!.ratelimit, /^"chat\.requests";r=0;t=\d+, "chat\.burst";r=0;t=\d+$/);
      assert.ok(retryAfter(d) <= 60);
    } finally {
      await r.close();
    }
  });

  test(`${backend}: token reservations fit exactly, and settle against usage`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm }]
limits:
  rules: [{ name: tok, tokens: { rate: 100/m } }]
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      const prompt = 'x'.repeat(40); // 10 tokens at 4 characters per token
      const ask = (maxTokens: number) => openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: prompt }], max_tokens: maxTokens } });
      const first = ask(90); // 10 + 90 = the whole budget
      assert.equal((await run(stage, first)).allow, true);
      const d = denied(await run(stage, ask(1)));
      assert.equal(d.code, 'PALISADE_TOKEN_BUDGET');
      assert.equal(d.headers!['ratelimit-policy'], '"tok.tokens";q=100;qu="tokens";w=60');
      assert.match(d.headers!.ratelimit, /^"tok\.tokens";r=0;t=\d+$/);
      assert.equal(d.notes?.[0].detail?.requested, 11);
      // The upstream used 30 of the 100 reserved: 70 are free again, exactly.
      assert.equal(stage.wantsResponse!(first), true);
      await stage.response!(first, { protocol: 'openai', model: 'm', status: 200, stream: false, body: {}, tensors: [], usage: { inputTokens: 12, outputTokens: 18 } });
      stage.done!(first, OK_OUTCOME);
      await settle();
      const over = denied(await run(stage, ask(61))); // 10 + 61 = 71
      assert.match(over.headers!.ratelimit, /;r=70;/);
      assert.equal((await run(stage, ask(60))).allow, true); // 10 + 60 = 70
    } finally {
      await r.close();
    }
  });

  test(`${backend}: concurrency holds a slot until done`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm, limits: { concurrency: { max: 2 } } }]
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      const a = openaiCtx(loaded);
      const b = openaiCtx(loaded);
      assert.equal((await run(stage, a)).allow, true);
      const db = await run(stage, b);
      assert.equal(db.allow, true);
      assert.equal(headersOf(db)?.ratelimit, '"model.m.concurrency";r=0');
      const d = denied(await run(stage, openaiCtx(loaded)));
      assert.equal(d.code, 'PALISADE_CONCURRENCY');
      assert.equal(d.headers!['retry-after'], '1');
      assert.equal(d.headers!['ratelimit-policy'], '"model.m.concurrency";q=2;qu="concurrent-requests"');
      assert.equal(d.headers!.ratelimit, '"model.m.concurrency";r=0');
      // A refusal holds nothing: after one is done, exactly one more fits.
      stage.done!(a, OK_OUTCOME);
      await settle();
      assert.equal((await run(stage, openaiCtx(loaded))).allow, true);
      denied(await run(stage, openaiCtx(loaded)));
    } finally {
      await r.close();
    }
  });

  test(`${backend}: the daily query budget refuses until the end of the UTC day`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm, limits: { queries: { perDay: 2 } } }]
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      assert.equal((await run(stage, openaiCtx(loaded))).allow, true);
      assert.equal((await run(stage, openaiCtx(loaded))).allow, true);
      const d = denied(await run(stage, openaiCtx(loaded)));
      assert.equal(d.code, 'PALISADE_QUERY_BUDGET');
      const left = utcDay(Date.now()).secondsLeft;
      assert.ok(Math.abs(retryAfter(d) - left) <= 2, `retry-after ${retryAfter(d)} vs ${left}`);
      assert.equal(d.headers!['ratelimit-policy'], '"model.m.queries";q=2;w=86400');
      assert.equal(d.headers!.ratelimit, `"model.m.queries";r=0;t=${retryAfter(d)}`);
    } finally {
      await r.close();
    }
  });

  test(`${backend}: a refusal of a later limit gives back what earlier ones took`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm, limits: { concurrency: { max: 1 }, tokens: { rate: 50/m } } }]
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      const big = openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 } });
      assert.equal(denied(await run(stage, big)).code, 'PALISADE_TOKEN_BUDGET');
      await settle();
      // The concurrency slot and the refused reservation were both given back.
      const ok = openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 49 } });
      assert.equal((await run(stage, ok)).allow, true);
    } finally {
      await r.close();
    }
  });

  test(`${backend}: shadow mode counts and notes, and never refuses`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm, limits: { requests: { rate: 1/m } } }]
limits: { mode: shadow }
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      assert.equal((await run(stage, openaiCtx(loaded))).allow, true);
      const d = await run(stage, openaiCtx(loaded));
      assert.equal(d.allow, true);
      assert.equal(d.notes?.[0].kind, 'rate-limited');
      assert.equal(d.notes?.[0].detail?.shadow, true);
      // Shadow limits are not the client's: no RateLimit fields.
      const c = openaiCtx(loaded);
      assert.equal(headersOf(await run(stage, c)), undefined);
    } finally {
      await r.close();
    }
  });

  test(`${backend}: risk shrinks a principal's limits on the same counter`, { skip }, async () => {
    const r = await rig(backend);
    try {
      const yaml = `
models: [{ name: m, upstream: llm, limits: { requests: { rate: 10/m } } }]
limits:
  risk:
    shrink: [{ atLeast: 0.5, factor: 0.5 }, { atLeast: 0.9, factor: 0 }]
`;
      const stage = r.stage(yaml);
      const loaded = loadYaml(HEAD + yaml);
      const state = r.services.state;
      const alice = principal('alice');
      await state.addDecaying(riskKey('alice'), 0.6, 3_600_000, Date.now());
      for (let i = 0; i < 5; i++) assert.equal((await run(stage, openaiCtx(loaded, { principal: alice }))).allow, true, `alice ${i + 1}`);
      const d = denied(await run(stage, openaiCtx(loaded, { principal: alice })));
      assert.equal(d.headers!['ratelimit-policy'], '"model.m.requests";q=5;w=60');
      assert.equal(d.notes?.[0].detail?.factor, 0.5);

      // Risk that grows mid-window shrinks what is left of the same counter: 4 of 10 used
      // leaves 6 units, which at factor 0.5 buy 3 requests (a fresh counter would give 5).
      const bob = principal('bob');
      for (let i = 0; i < 4; i++) assert.equal((await run(stage, openaiCtx(loaded, { principal: bob }))).allow, true);
      await state.addDecaying(riskKey('bob'), 0.6, 3_600_000, Date.now());
      for (let i = 0; i < 3; i++) assert.equal((await run(stage, openaiCtx(loaded, { principal: bob }))).allow, true, `bob ${i + 5}`);
      denied(await run(stage, openaiCtx(loaded, { principal: bob })));

      // A principal at the top of the table gets nothing; a fresh one gets all 10.
      await state.addDecaying(riskKey('eve'), 0.95, 3_600_000, Date.now());
      assert.equal(denied(await run(stage, openaiCtx(loaded, { principal: principal('eve') }))).code, 'PALISADE_RATE_LIMITED');
      for (let i = 0; i < 10; i++) assert.equal((await run(stage, openaiCtx(loaded, { principal: principal('carol') }))).allow, true);
      denied(await run(stage, openaiCtx(loaded, { principal: principal('carol') })));
    } finally {
      await r.close();
    }
  });
}

test('a stream that runs past its reservation is extended, and ended when the budget is gone', async () => {
  const r = await rig('memory');
  try {
    const yaml = `
models: [{ name: m, upstream: llm }]
limits:
  tokens: { defaultMaxTokens: 2 }
  rules: [{ name: tok, tokens: { rate: 10/m } }]
`;
    const stage = r.stage(yaml);
    const loaded = loadYaml(HEAD + yaml);
    const ctx = openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true } });
    assert.equal((await run(stage, ctx)).allow, true); // 1 + 2 reserved
    // The gateway asked the upstream for usage in the stream.
    assert.deepEqual((ctx.request!.body as { stream_options?: unknown }).stream_options, { include_usage: true });
    const ev: InferenceResponse = { protocol: 'openai', model: 'm', status: 200, stream: true, body: {}, tensors: [] };
    let endedAt = 0;
    for (let i = 1; i <= 20; i++) {
      const d = await stage.response!(ctx, ev);
      if (d && !d.allow) {
        assert.equal(d.code, 'PALISADE_TOKEN_BUDGET');
        endedAt = i;
        break;
      }
    }
    // prompt 1 + one token per event: the 10th event fits, the 10th token would not.
    assert.equal(endedAt, 10);
  } finally {
    await r.close();
  }
});

test('a stream with max_tokens that fills the budget exactly is not cut by the event estimate', async () => {
  const r = await rig('memory');
  try {
    const yaml = `
models: [{ name: m, upstream: llm }]
limits:
  rules: [{ name: tok, tokens: { rate: 10/m } }]
`;
    const stage = r.stage(yaml);
    const loaded = loadYaml(HEAD + yaml);
    const ctx = openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 9 } });
    assert.equal((await run(stage, ctx)).allow, true); // 1 + 9: the whole budget
    const ev: InferenceResponse = { protocol: 'openai', model: 'm', status: 200, stream: true, body: {}, tensors: [] };
    // Role event, 9 tokens, finish event: 11 events for 9 tokens.
    for (let i = 0; i < 11; i++) assert.equal(await stage.response!(ctx, ev), undefined, `event ${i + 1}`);
    await stage.response!(ctx, { ...ev, usage: { inputTokens: 1, outputTokens: 9 } });
    stage.done!(ctx, OK_OUTCOME);
    await settle();
    const l = r.services.limiters!.lookup('tok:tokens')!;
    assert.equal((await l.get('a:192.0.2.1|m:m'))!.consumedPoints, 10 * SCALE);
  } finally {
    await r.close();
  }
});

test('counters survive a reload that keeps their shape; the registry drops what no runtime uses', async () => {
  const r = await rig('memory');
  try {
    const yaml = `models: [{ name: m, upstream: llm, limits: { requests: { rate: 2/m } } }]`;
    const loaded = loadYaml(HEAD + yaml);
    const a = r.stage(yaml);
    await run(a, openaiCtx(loaded));
    await run(a, openaiCtx(loaded));
    const b = r.stage(yaml); // the reloaded runtime
    await a.close!();
    denied(await run(b, openaiCtx(loaded)));
    await b.close!();
    assert.equal(r.services.limiters!.size, 0);
  } finally {
    await r.close();
  }
});

test('milli-unit counting: a factor scales the quota by floor(limit × factor)', () => {
  // Documented arithmetic of the stage: points = limit × SCALE, a unit costs round(SCALE / factor).
  const eff = (limit: number, f: number) => Math.floor((limit * SCALE) / Math.round(SCALE / f));
  assert.equal(eff(10, 0.5), 5);
  assert.equal(eff(100, 0.3), 30);
  assert.equal(eff(7, 1), 7);
});

test('without limits, or with mode off, there is no limit stage (it costs nothing)', () => {
  const services: Services = { logger: silentLogger, observer: {}, state: new MemoryStore(), limiters: new LimiterRegistry() };
  assert.equal(createLimitStage(loadYaml(HEAD + 'models: [{ name: m, upstream: llm }]'), services), undefined);
  const off = `models: [{ name: m, upstream: llm, limits: { requests: { rate: 1/m } } }]\nlimits: { mode: off }`;
  assert.equal(createLimitStage(loadYaml(HEAD + off), services), undefined);
  assert.equal(services.limiters!.size, 0);
});

test('utcDay: the kept day follows the clock across midnight, forwards and back', () => {
  const midnight = Date.UTC(2026, 10, 27);
  assert.deepEqual(utcDay(midnight - 1000), { day: '2026-11-26', secondsLeft: 1 });
  assert.deepEqual(utcDay(midnight - 1), { day: '2026-11-26', secondsLeft: 0.001 });
  assert.deepEqual(utcDay(midnight), { day: '2026-11-27', secondsLeft: 86_400 });
  assert.deepEqual(utcDay(midnight - 500), { day: '2026-11-26', secondsLeft: 0.5 });
  assert.deepEqual(utcDay(Date.UTC(2028, 1, 29, 12)), { day: '2028-02-29', secondsLeft: 43_200 });
});
