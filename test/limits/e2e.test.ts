/**
 * The limit stage through real sockets: a gateway in this process, the demo LLM server
 * as a child process, and (for the Redis tests) the shared Redis or a redis-server of
 * the test's own that it stops and starts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SCALE } from '../../src/limits/stage.js';
import { startGateway, postJson, type TestGateway } from '../helpers/gateway.js';
import { captureLogger, until } from '../helpers/log.js';
import { cleanup, freePort, keyPrefix, REDIS_SERVER_SKIP, REDIS_SKIP, REDIS_URL, redisClient, startPrivateRedis } from '../helpers/redis.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
});
after(async () => {
  await llm.stop();
});

const config = (limits: string, extra = '') => `
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - name: demo-llm
    upstream: llm
${limits}
${extra}
`;

const chat = (content = 'hello there', more: Record<string, unknown> = {}) => ({
  model: 'demo-llm',
  messages: [{ role: 'user', content }],
  max_tokens: 3,
  ...more,
});

async function health(gw: TestGateway): Promise<{ state: { backend: string; up: number } }> {
  return (await fetch(`${gw.adminUrl}/healthz`)).json() as Promise<{ state: { backend: string; up: number } }>;
}

test('a refused request is a 429 in the one error shape, with Retry-After and the IETF RateLimit headers', async () => {
  const gw = await startGateway(config('    limits: { requests: { rate: 2/m } }'));
  try {
    await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
    for (let i = 0; i < 2; i++) {
      const ok = await postJson(`${gw.url}/v1/chat/completions`, chat());
      assert.equal(ok.status, 200);
      // Admitted responses carry what is left, too.
      assert.equal(ok.headers.get('ratelimit-policy'), '"model.demo-llm.requests";q=2;w=60');
      assert.match(ok.headers.get('ratelimit') ?? '', new RegExp(`^"model\\.demo-llm\\.requests";r=${1 - i};t=\\d+$`));
      assert.equal(ok.headers.get('retry-after'), null);
    }
    const r = await postJson(`${gw.url}/v1/chat/completions`, chat());
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'PALISADE_RATE_LIMITED');
    assert.ok(r.json.error.requestId);
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 60);
    assert.equal(r.headers.get('ratelimit-policy'), '"model.demo-llm.requests";q=2;w=60');
    assert.equal(r.headers.get('ratelimit'), `"model.demo-llm.requests";r=0;t=${ra}`);
    // The upstream never saw the refused request.
    const stats = (await (await fetch(`${llm.url}/__stats`)).json()) as { byPath: Record<string, number> };
    assert.equal(stats.byPath['/v1/chat/completions'], 2);
  } finally {
    await gw.stop();
  }
});

test('concurrency: a third request while two stream is refused; a slot frees when a stream ends', async () => {
  const gw = await startGateway(config('    limits: { concurrency: { max: 2 } }'));
  try {
    const slow = () =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-demo-token-delay-ms': '100' },
        body: JSON.stringify(chat('hello', { stream: true, max_tokens: 5 })),
      });
    const a = await slow();
    const b = await slow();
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const c = await postJson(`${gw.url}/v1/chat/completions`, chat());
    assert.equal(c.status, 429);
    assert.equal(c.json.error.code, 'PALISADE_CONCURRENCY');
    assert.equal(c.headers.get('ratelimit-policy'), '"model.demo-llm.concurrency";q=2;qu="concurrent-requests"');
    await a.text();
    await until(async () => (await postJson(`${gw.url}/v1/chat/completions`, chat())).status === 200, 'a free slot');
    await b.text();
  } finally {
    await gw.stop();
  }
});

test('a streamed response settles the token reservation on the usage the upstream reports', async () => {
  const gw = await startGateway(config('', 'limits: { rules: [{ name: tok, tokens: { rate: 1000/m } }] }'));
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // 'hello there friend': 18 characters, 5 tokens estimated, 3 counted by the upstream.
      body: JSON.stringify(chat('hello there friend', { stream: true, max_tokens: 5 })),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    // The gateway asked for usage; the client sees the usage chunk and the end.
    assert.match(text, /"usage":\{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8\}/);
    assert.match(text, /data: \[DONE\]\n\n$/);
    const limiter = gw.gw.services.limiters!.lookup('tok:tokens')!;
    // Reserved 5 + 5 = 10; settled to 3 + 5 = 8.
    await until(async () => (await limiter.get('a:127.0.0.1|m:demo-llm'))?.consumedPoints === 8 * SCALE, 'settlement to 8 tokens');
  } finally {
    await gw.stop();
  }
});

test('a stream that crosses the token budget ends at the next event with a final error event', async () => {
  const gw = await startGateway(
    config('', `limits:
  tokens: { defaultMaxTokens: 2 }
  rules: [{ name: tok, tokens: { rate: 12/m } }]`),
  );
  try {
    // No max_tokens: 1 + 2 reserved; the demo reply runs much longer than 12 tokens.
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    const last = events[events.length - 1];
    assert.match(last, /^event: error\ndata: /);
    assert.equal(JSON.parse(last.split('data: ')[1]).error.code, 'PALISADE_TOKEN_BUDGET');
    assert.ok(!text.includes('[DONE]'));
    // 1 prompt token + 11 events fit in 12; the event that would cross is not delivered.
    const data = events.filter((e) => e.startsWith('data: {'));
    assert.equal(data.length, 11);
    // The next request does not fit what is left.
    const next = await postJson(`${gw.url}/v1/chat/completions`, chat('hi', { max_tokens: 1 }));
    assert.equal(next.status, 429);
    assert.equal(next.json.error.code, 'PALISADE_TOKEN_BUDGET');
  } finally {
    await gw.stop();
  }
});

test('x-forwarded-for from an untrusted peer does not change the key; from a trusted proxy it does', async () => {
  const limits = '    limits: { requests: { rate: 2/m, by: client } }';
  const untrusted = await startGateway(config(limits, 'server: { trustedProxies: ["10.9.9.9"] }'));
  try {
    const codes: number[] = [];
    for (const xff of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      codes.push((await postJson(`${untrusted.url}/v1/chat/completions`, chat(), { 'x-forwarded-for': xff })).status);
    }
    assert.deepEqual(codes, [200, 200, 429]);
  } finally {
    await untrusted.stop();
  }
  const trusted = await startGateway(config(limits, 'server: { trustedProxies: ["127.0.0.1"] }'));
  try {
    const codes: number[] = [];
    for (const xff of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      codes.push((await postJson(`${trusted.url}/v1/chat/completions`, chat(), { 'x-forwarded-for': xff })).status);
    }
    assert.deepEqual(codes, [200, 200, 200]);
  } finally {
    await trusted.stop();
  }
});

test('redis: the gateway counts in the shared Redis under its key prefix', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('e2e');
  const gw = await startGateway(
    config('    limits: { requests: { rate: 3/m } }', `state: { kind: redis, url: "${REDIS_URL}", keyPrefix: "${prefix}" }`),
  );
  const peek = redisClient();
  try {
    assert.equal((await health(gw)).state.backend, 'redis');
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await postJson(`${gw.url}/v1/chat/completions`, chat())).status);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    assert.equal(await peek.get(`${prefix}lim:model.demo-llm:requests:a:127.0.0.1|m:demo-llm`), String(4 * SCALE));
  } finally {
    peek.disconnect();
    await gw.stop();
    await cleanup(prefix);
  }
});

test('redis at a port where nothing listens: the gateway starts, limits locally and says so', async () => {
  const port = await freePort();
  const logger = captureLogger();
  const gw = await startGateway(
    config('    limits: { requests: { rate: 3/m } }', `state: { kind: redis, url: "redis://127.0.0.1:${port}", connectTimeout: 300ms }`),
    { logger },
  );
  try {
    const h = await health(gw);
    assert.deepEqual([h.state.backend, h.state.up], ['local', 0]);
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await postJson(`${gw.url}/v1/chat/completions`, chat())).status);
    assert.deepEqual(codes, [200, 200, 200, 429]);
    assert.ok(logger.has('warn', /Redis is unreachable; limiting on local memory/));
  } finally {
    await gw.stop();
  }
});

test('redis stopped mid-run: limited locally at the replica share, no request errors, back on Redis when it returns', { skip: REDIS_SERVER_SKIP, timeout: 60_000 }, async () => {
  const redis = await startPrivateRedis();
  const logger = captureLogger();
  // 4 a minute across 2 replicas: each replica enforces 2 on its own while Redis is away.
  const gw = await startGateway(
    config('    limits: { requests: { rate: 4/m } }', `state: { kind: redis, url: "${redis.url}", replicas: 2, commandTimeout: 200ms }`),
    { logger },
  );
  const key = 'palisade:lim:model.demo-llm:requests:a:127.0.0.1|m:demo-llm';
  const send = async (n: number) => {
    const codes: number[] = [];
    for (let i = 0; i < n; i++) codes.push((await postJson(`${gw.url}/v1/chat/completions`, chat())).status);
    return codes;
  };
  try {
    assert.equal((await health(gw)).state.backend, 'redis');
    assert.deepEqual(await send(1), [200]);
    let peek = redisClient(redis.url);
    assert.equal(await peek.get(key), String(SCALE));
    peek.disconnect();

    await redis.stop();
    await until(async () => (await health(gw)).state.backend === 'local', 'healthz reports local state');
    assert.deepEqual(await send(3), [200, 200, 429]);
    assert.ok(logger.has('warn', /Redis is unreachable/));

    await redis.start(); // empty: it saved nothing
    await until(async () => (await health(gw)).state.backend === 'redis', 'healthz reports Redis again');
    assert.deepEqual(await send(5), [200, 200, 200, 200, 429]);
    peek = redisClient(redis.url);
    assert.equal(await peek.get(key), String(5 * SCALE));
    peek.disconnect();
    assert.ok(logger.has('info', /Redis is reachable/));
  } finally {
    await gw.stop();
    await redis.stop();
  }
});
