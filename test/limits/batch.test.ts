/**
 * Redis counters in one round trip: an admitted request takes all of its limits with one
 * script (LimiterRegistry.consumeAll), a refusal leaves the other counters as they were,
 * and a Redis that stops answering mid-run sends the request to the local insurance (or to
 * the failure policy) instead of failing it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLimiterRegistry, LimiterRegistry } from '../../src/limits/limiters.js';
import { createLimitStage, SCALE } from '../../src/limits/stage.js';
import { utcDay } from '../../src/limits/keys.js';
import type { Stage } from '../../src/pipeline/stage.js';
import type { Decision, Outcome } from '../../src/pipeline/types.js';
import { silentLogger, type Services } from '../../src/services.js';
import type { StoreFailurePolicy } from '../../src/state/config.js';
import { FailoverStore } from '../../src/state/failover.js';
import { MemoryStore } from '../../src/state/memory.js';
import { RedisStore } from '../../src/state/redis.js';
import { riskKey } from '../../src/limits/risk.js';
import { loadYaml, openaiCtx, principal } from '../helpers/context.js';
import { cleanup, keyPrefix, REDIS_SERVER_SKIP, REDIS_SKIP, REDIS_URL, redisClient, startPrivateRedis } from '../helpers/redis.js';

const HEAD = `
upstreams:
  llm: { protocol: openai, url: "http://127.0.0.1:9" }
`;
const ALL_FOUR = `
models:
  - name: m
    upstream: llm
    limits: { requests: { rate: 5/m, burst: 1/h }, tokens: { rate: 1000/m }, concurrency: { max: 3 }, queries: { perDay: 100 } }
`;
const OK: Outcome = { status: 200, upstreamStatus: 200, durationMs: 1, usage: { inputTokens: 1, outputTokens: 0 } };

async function redisServices(url: string, prefix: string, policy: StoreFailurePolicy = 'local', commandTimeoutMs = 5000) {
  const state = new FailoverStore(new RedisStore({ url, keyPrefix: prefix, connectTimeoutMs: 2000, commandTimeoutMs }), new MemoryStore(), policy, silentLogger);
  assert.ok(await state.waitReady(5000), 'Redis answers');
  const services: Services = { logger: silentLogger, observer: {}, state, limiters: createLimiterRegistry(state) };
  return { state, services };
}

/** Names of the commands the store's client sends from now on. */
function recordCommands(state: FailoverStore): string[] {
  const sent: string[] = [];
  const client = state.redis.client as unknown as { sendCommand(cmd: { name: string }, ...rest: unknown[]): unknown };
  const orig = client.sendCommand.bind(client);
  client.sendCommand = (cmd, ...rest) => {
    sent.push(cmd.name);
    return orig(cmd, ...rest);
  };
  return sent;
}

function denied(d: Decision): Extract<Decision, { allow: false }> {
  assert.equal(d.allow, false, 'expected a refusal');
  return d as Extract<Decision, { allow: false }>;
}

const settle = () => new Promise((r) => setTimeout(r, 100));

test('redis: an admitted request takes all four limits in one command, and refusals stay exact', { skip: REDIS_SKIP, timeout: 30_000 }, async () => {
  const prefix = keyPrefix('batch');
  const { state, services } = await redisServices(REDIS_URL, prefix);
  const stage = createLimitStage(loadYaml(HEAD + ALL_FOUR), services)!;
  const loaded = loadYaml(HEAD + ALL_FOUR);
  const peek = redisClient();
  try {
    assert.equal(services.limiters!.route, 'batch');
    const sent = recordCommands(state);
    const a = openaiCtx(loaded);
    const da = await stage.request!(a);
    assert.equal(da.allow, true);
    const ha = da.allow ? da.headers : undefined;
    assert.equal(sent.length, 1, `commands for one admitted request: ${sent.join(', ')}`);
    assert.match(sent[0], /^eval(sha)?$/);
    // What is left of each limit, for the RateLimit fields of the response (burst: refusals only).
    assert.equal(
      ha?.['ratelimit-policy'],
      '"model.m.requests";q=5;w=60, "model.m.concurrency";q=3;qu="concurrent-requests", "model.m.tokens";q=1000;qu="tokens";w=60, "model.m.queries";q=100;w=86400',
    );
    assert.match(ha?.ratelimit ?? '', /^"model\.m\.requests";r=4;t=\d+, "model\.m\.concurrency";r=2, "model\.m\.tokens";r=998;t=\d+, "model\.m\.queries";r=99;t=\d+$/);

    // All four counters moved, under the keys the library's limiters use.
    const key = 'a:192.0.2.1|m:m';
    const day = utcDay(Date.now()).day;
    assert.equal(await peek.get(`${prefix}lim:model.m:requests:${key}`), String(SCALE));
    assert.equal(await peek.get(`${prefix}lim:model.m:concurrency:${key}`), String(SCALE));
    assert.equal(await peek.get(`${prefix}lim:model.m:tokens:${key}`), String(2 * SCALE)); // 'hi' = 1 token + max_tokens 1
    assert.equal(await peek.get(`${prefix}lim:model.m:queries:${key}|d:${day}`), String(SCALE));
    const ttl = await peek.ttl(`${prefix}lim:model.m:queries:${key}|d:${day}`);
    assert.ok(ttl > 0 && ttl <= utcDay(Date.now()).secondsLeft + 61, `queries ttl ${ttl}`);

    // Two more in flight fill the concurrency; the fourth is refused by concurrency and
    // leaves tokens and queries untouched (the request counter counts the attempt).
    const b = openaiCtx(loaded);
    const c = openaiCtx(loaded);
    assert.equal((await stage.request!(b)).allow, true);
    assert.equal((await stage.request!(c)).allow, true);
    const d = denied(await stage.request!(openaiCtx(loaded)));
    assert.equal(d.code, 'PALISADE_CONCURRENCY');
    assert.equal(d.headers!.ratelimit, '"model.m.concurrency";r=0');
    assert.equal(await peek.get(`${prefix}lim:model.m:requests:${key}`), String(4 * SCALE));
    assert.equal(await peek.get(`${prefix}lim:model.m:concurrency:${key}`), String(3 * SCALE));
    assert.equal(await peek.get(`${prefix}lim:model.m:tokens:${key}`), String(6 * SCALE));
    assert.equal(await peek.get(`${prefix}lim:model.m:queries:${key}|d:${day}`), String(3 * SCALE));

    // Settlement (a separate call after the response, also one command) gives the slots
    // back, and the token each request reserved but did not use.
    sent.length = 0;
    stage.done!(a, OK);
    assert.equal(sent.length, 1, `commands for one settlement: ${sent.join(', ')}`);
    for (const ctx of [b, c]) stage.done!(ctx, OK);
    await settle();
    assert.equal(await peek.get(`${prefix}lim:model.m:concurrency:${key}`), '0');
    assert.equal(await peek.get(`${prefix}lim:model.m:tokens:${key}`), String(3 * SCALE));

    // 5 a minute plus a burst of 1: the 5th and 6th attempts pass (one on the burst), the 7th is refused naming both.
    assert.equal((await stage.request!(openaiCtx(loaded))).allow, true);
    assert.equal((await stage.request!(openaiCtx(loaded))).allow, true);
    const r = denied(await stage.request!(openaiCtx(loaded)));
    assert.equal(r.code, 'PALISADE_RATE_LIMITED');
    assert.equal(r.headers!['ratelimit-policy'], '"model.m.requests";q=5;w=60, "model.m.burst";q=1;w=3600');
    assert.match(r.headers!.ratelimit, /^"model\.m\.requests";r=0;t=\d+, "model\.m\.burst";r=0;t=\d+$/);
    const ra = Number(r.headers!['retry-after']);
    assert.ok(ra >= 1 && ra <= 60, `retry-after ${ra}`);
  } finally {
    peek.disconnect();
    await stage.close?.();
    await state.close();
    await cleanup(prefix);
  }
});

test('redis: a token reservation larger than the whole budget is refused without creating or moving a counter', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('batch-big');
  const { state, services } = await redisServices(REDIS_URL, prefix);
  const yaml = `models: [{ name: m, upstream: llm, limits: { concurrency: { max: 2 }, tokens: { rate: 10/m } } }]`;
  const stage = createLimitStage(loadYaml(HEAD + yaml), services)!;
  const loaded = loadYaml(HEAD + yaml);
  const peek = redisClient();
  try {
    const d = denied(await stage.request!(openaiCtx(loaded, { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50 } })));
    assert.equal(d.code, 'PALISADE_TOKEN_BUDGET');
    assert.equal(d.notes?.[0].detail?.requested, 51);
    assert.equal(d.notes?.[0].detail?.remaining, 10);
    assert.match(d.headers!.ratelimit, /^"model\.m\.tokens";r=10;t=60$/);
    assert.equal(await peek.get(`${prefix}lim:model.m:tokens:a:192.0.2.1|m:m`), null);
    assert.equal(await peek.get(`${prefix}lim:model.m:concurrency:a:192.0.2.1|m:m`), '0');
  } finally {
    peek.disconnect();
    await stage.close?.();
    await state.close();
    await cleanup(prefix);
  }
});

test('redis: with risk-adaptive limits the script also reads the risk: still one command, the same shrink', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('batch-risk');
  const { state, services } = await redisServices(REDIS_URL, prefix);
  const yaml = `
models: [{ name: m, upstream: llm, limits: { requests: { rate: 10/m }, concurrency: { max: 5 } } }]
limits:
  risk:
    shrink: [{ atLeast: 0.5, factor: 0.5 }, { atLeast: 0.9, factor: 0 }]
`;
  const stage = createLimitStage(loadYaml(HEAD + yaml), services)!;
  const loaded = loadYaml(HEAD + yaml);
  const peek = redisClient();
  try {
    await state.addDecaying(riskKey('alice'), 0.6, 3_600_000, Date.now());
    await state.addDecaying(riskKey('eve'), 0.95, 3_600_000, Date.now());
    const sent = recordCommands(state);
    const a = openaiCtx(loaded, { principal: principal('alice') });
    const da = await stage.request!(a);
    assert.equal(da.allow, true);
    const ha = da.allow ? da.headers : undefined;
    assert.equal(sent.length, 1, `commands: ${sent.join(', ')}`);
    // Factor 0.5: half of each limit, on the same counters (a unit costs 2000 points).
    assert.equal(ha?.['ratelimit-policy'], '"model.m.requests";q=5;w=60, "model.m.concurrency";q=2;qu="concurrent-requests"');
    assert.match(ha?.ratelimit ?? '', /^"model\.m\.requests";r=4;t=\d+, "model\.m\.concurrency";r=1$/);
    assert.equal(await peek.get(`${prefix}lim:model.m:requests:p:alice|m:m`), String(2 * SCALE));
    stage.done!(a, OK);

    // Factor 0: refused in the same command, nothing counted.
    sent.length = 0;
    const d = denied(await stage.request!(openaiCtx(loaded, { principal: principal('eve') })));
    assert.equal(sent.length, 1);
    assert.equal(d.code, 'PALISADE_RATE_LIMITED');
    assert.equal(d.notes?.[0].detail?.factor, 0);
    assert.ok(Math.abs((d.notes?.[0].detail?.risk as number) - 0.95) < 1e-3);
    assert.equal(await peek.get(`${prefix}lim:model.m:requests:p:eve|m:m`), null);
  } finally {
    peek.disconnect();
    await stage.close?.();
    await state.close();
    await cleanup(prefix);
  }
});

test('redis: one command per counter when batching is off (the A/B baseline), same decisions', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('batch-off');
  const { state } = await redisServices(REDIS_URL, prefix);
  const services: Services = { logger: silentLogger, observer: {}, state, limiters: new LimiterRegistry({ redis: state.redis.client, batch: false }) };
  const stage = createLimitStage(loadYaml(HEAD + ALL_FOUR), services)!;
  const loaded = loadYaml(HEAD + ALL_FOUR);
  try {
    assert.equal(services.limiters!.route, 'each');
    const sent = recordCommands(state);
    assert.equal((await stage.request!(openaiCtx(loaded))).allow, true);
    assert.equal(sent.length, 4, `commands: ${sent.join(', ')}`);
    assert.equal((await stage.request!(openaiCtx(loaded))).allow, true);
    assert.equal((await stage.request!(openaiCtx(loaded))).allow, true);
    assert.equal(denied(await stage.request!(openaiCtx(loaded))).code, 'PALISADE_CONCURRENCY');
  } finally {
    await stage.close?.();
    await state.close();
    await cleanup(prefix);
  }
});

/**
 * A Redis that is connected but does not answer (CLIENT PAUSE): the script times out after
 * commandTimeout, and the request is decided by the failure policy.
 */
async function withPausedRedis(policy: StoreFailurePolicy, check: (stage: Stage, loaded: ReturnType<typeof loadYaml>, state: FailoverStore) => Promise<void>) {
  const redis = await startPrivateRedis();
  const { state, services } = await redisServices(redis.url, 'p:', policy, 300);
  const yaml = `models: [{ name: m, upstream: llm, limits: { requests: { rate: 2/m }, concurrency: { max: 5 } } }]`;
  const stage = createLimitStage(loadYaml(HEAD + yaml), services)!;
  const pauser = redisClient(redis.url);
  try {
    await pauser.call('client', 'pause', '3000', 'ALL');
    await check(stage, loadYaml(HEAD + yaml), state);
  } finally {
    pauser.disconnect();
    await stage.close?.();
    await state.close();
    await redis.stop();
  }
}

test('redis hung (policy local): the request is counted on the local insurance, and health says local', { skip: REDIS_SERVER_SKIP, timeout: 30_000 }, async () => {
  await withPausedRedis('local', async (stage, loaded, state) => {
    const codes: (string | true)[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await stage.request!(openaiCtx(loaded));
      codes.push(d.allow ? true : d.code);
    }
    // The local share of 2 a minute (replicas: 1) is 2.
    assert.deepEqual(codes, [true, true, 'PALISADE_RATE_LIMITED']);
    assert.equal(state.health().backend, 'local');
  });
});

test('redis hung (policy deny): limited requests are refused with PALISADE_STATE_UNAVAILABLE', { skip: REDIS_SERVER_SKIP, timeout: 30_000 }, async () => {
  await withPausedRedis('deny', async (stage, loaded) => {
    const d = denied(await stage.request!(openaiCtx(loaded)));
    assert.equal(d.code, 'PALISADE_STATE_UNAVAILABLE');
  });
});

test('redis hung (policy allow): limited requests pass unlimited', { skip: REDIS_SERVER_SKIP, timeout: 30_000 }, async () => {
  await withPausedRedis('allow', async (stage, loaded) => {
    const d = await stage.request!(openaiCtx(loaded));
    assert.equal(d.allow, true);
  });
});
