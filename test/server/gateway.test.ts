/**
 * End to end through real sockets: a real gateway in front of the demo LLM server,
 * which runs as a separate process.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request as undiciRequest } from 'undici';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;

const config = (llmUrl: string, extra = '') => `
server:
  bodyLimit: 64kb
upstreams:
  llm:
    protocol: openai
    url: "${llmUrl}"
    timeouts: { connect: 500ms, headers: 1s, body: 1s }
    maxResponseSize: 256kb
    circuitBreaker: { failureThreshold: 3, cooldown: 1s }
  down:
    protocol: openai
    url: "http://127.0.0.1:9"
    retries: 1
  asKserve:
    protocol: kserve-v2
    url: "${llmUrl}"
models:
  - { name: demo-llm, upstream: llm }
  - { name: small, upstream: llm, upstreamModel: demo-llm, bodyLimit: 1kb }
  - { name: gone, upstream: down }
  - { name: tensor, upstream: asKserve }
${extra}`;

async function stats() {
  return (await fetch(`${llm.url}/__stats`)).json() as Promise<{ requests: number; lastBody?: any; lastHeaders?: Record<string, string> }>;
}
async function resetStats() {
  await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
}
const chat = (model = 'demo-llm', extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra });

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  gw = await startGateway(config(llm.url));
});
after(async () => {
  await gw?.stop();
  await llm?.stop();
});

test('openai chat completion through the gateway; the forwarded body is the parsed one', async () => {
  await resetStats();
  const raw = '{"model":"demo-llm","model":"demo-llm","messages":[{"role":"user","content":"hi"}],"max_tokens":3}';
  // node:http, not fetch: fetch refuses to send a Connection header.
  const r = await new Promise<{ status: number; headers: IncomingHttpHeaders; json: any }>((resolve, reject) => {
    const req = httpRequest(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer secret', 'x-request-id': 'req-123', connection: 'keep-alive, x-drop-me', 'x-drop-me': '1' },
    }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(t) }));
    });
    req.on('error', reject);
    req.end(raw);
  });
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'chat.completion');
  assert.equal(r.headers['x-request-id'], 'req-123');
  const s = await stats();
  assert.equal(s.requests, 1);
  assert.deepEqual(s.lastBody, { model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
  assert.equal(s.lastHeaders?.authorization, undefined, 'the caller credential stays at the gateway');
  assert.equal(s.lastHeaders?.['x-drop-me'], undefined, 'headers named in Connection are hop-by-hop');
  assert.equal(s.lastHeaders?.['x-forwarded-for'], '127.0.0.1');
  assert.equal(s.lastHeaders?.['x-request-id'], 'req-123');
});

test('completions, embeddings, and a model renamed for the upstream', async () => {
  const c = await postJson(`${gw.url}/v1/completions`, { model: 'demo-llm', prompt: 'once upon', max_tokens: 2 });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json.object, 'text_completion');
  const e = await postJson(`${gw.url}/v1/embeddings`, { model: 'demo-llm', input: ['a', 'b'] });
  assert.equal(e.status, 200, e.text);
  assert.equal(e.json.data.length, 2);
  await resetStats();
  const s = await postJson(`${gw.url}/v1/chat/completions`, chat('small'));
  assert.equal(s.status, 200, s.text);
  assert.equal((await stats()).lastBody.model, 'demo-llm');
});

test('GET /v1/models is answered by the gateway from its config', async () => {
  const r = await fetch(`${gw.url}/v1/models`);
  const body = (await r.json()) as { data: { id: string }[] };
  assert.deepEqual(body.data.map((m) => m.id).sort(), ['demo-llm', 'gone', 'small']);
  const one = await fetch(`${gw.url}/v1/models/demo-llm`);
  assert.equal(((await one.json()) as { id: string }).id, 'demo-llm');
});

test('SSE streams through event by event and ends with [DONE]', async () => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    // 25 ms apart: at 5 ms a loaded machine merged the events into fewer reads.
    headers: { 'content-type': 'application/json', 'x-demo-token-delay-ms': '25' },
    body: JSON.stringify(chat('demo-llm', { stream: true, max_tokens: 5, stream_options: { include_usage: true } })),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  let chunks = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks++;
    text += Buffer.from(value).toString();
  }
  assert.ok(chunks > 3, `streamed in ${chunks} chunks, not buffered`);
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  assert.ok(events.some((e) => e.includes('"usage"')));
});

test('unknown model, unknown route, wrong method: stable codes, nothing reaches the upstream', async () => {
  await resetStats();
  const m = await postJson(`${gw.url}/v1/chat/completions`, chat('nope'));
  assert.equal(m.status, 404);
  assert.equal(m.json.error.code, 'PALISADE_UNKNOWN_MODEL');
  assert.match(m.json.error.requestId, /.+/);
  const r = await postJson(`${gw.url}/v1/nothing`, {});
  assert.equal(r.json.error.code, 'PALISADE_NOT_FOUND');
  const k = await postJson(`${gw.url}/v2/models/demo-llm/infer`, { inputs: [] });
  assert.equal(k.json.error.code, 'PALISADE_UNKNOWN_MODEL', 'an openai model is not a kserve route');
  const g = await fetch(`${gw.url}/v1/chat/completions`);
  assert.equal(g.status, 405);
  assert.equal((await stats()).requests, 0);
});

test('bad bodies are 400/415 with a stable code and never forwarded', async () => {
  await resetStats();
  const cases: [string, Record<string, string>, string][] = [
    ['{"model":"demo-llm",', {}, 'PALISADE_BAD_REQUEST'],
    ['{"__proto__":{"x":1},"model":"demo-llm","messages":[{"role":"user","content":"x"}]}', {}, 'PALISADE_BAD_REQUEST'],
    ['{"messages":[]}', {}, 'PALISADE_BAD_REQUEST'],
    [JSON.stringify(chat()), { 'content-type': 'text/plain' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
    [JSON.stringify(chat()), { 'content-encoding': 'gzip' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
    [`{"model":"demo-llm","messages":${'['.repeat(100)}${']'.repeat(100)}}`, {}, 'PALISADE_BAD_REQUEST'],
  ];
  for (const [body, headers, code] of cases) {
    const r = await postJson(`${gw.url}/v1/chat/completions`, body, headers);
    assert.equal(r.json?.error?.code, code, body.slice(0, 60));
  }
  assert.equal((await stats()).requests, 0);
});

test('path and body model must agree (KServe)', async () => {
  await resetStats();
  const r = await postJson(`${gw.url}/v2/models/tensor/infer`, { model_name: 'other', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'PALISADE_MODEL_MISMATCH');
  assert.equal((await stats()).requests, 0);
});

test('body limit: by Content-Length at once, by counting when chunked, per model', async () => {
  await resetStats();
  const big = JSON.stringify(chat('demo-llm', { pad: 'x'.repeat(70 * 1024) }));
  const r = await postJson(`${gw.url}/v1/chat/completions`, big);
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, 'PALISADE_BODY_TOO_LARGE');
  // Chunked: no Content-Length, the limit is enforced while reading.
  const res = await undiciRequest(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Readable.from((function* () {
      for (let i = 0; i < 80; i++) yield Buffer.from('x'.repeat(1024));
    })()),
  });
  assert.equal(res.statusCode, 413);
  assert.equal(((await res.body.json()) as any).error.code, 'PALISADE_BODY_TOO_LARGE');
  const small = await postJson(`${gw.url}/v1/chat/completions`, chat('small', { pad: 'y'.repeat(2000) }));
  assert.equal(small.status, 413, 'the model limit (1kb) is below the server limit');
  assert.equal((await stats()).requests, 0);
});

test('upstream down is a 502 after the safe retry', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat('gone'));
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_UNAVAILABLE');
});

test('upstream too slow for headers is a 504', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat(), { 'x-demo-fault': 'slow-headers:3000' });
  assert.equal(r.status, 504);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_TIMEOUT');
});

test('upstream that resets before headers is a 502', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat(), { 'x-demo-fault': 'reset-before-headers' });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_UNAVAILABLE');
});

test('a response over maxResponseSize is a 502, not an unbounded buffer', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat(), { 'x-demo-fault': 'huge:1000000' });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_RESPONSE_TOO_LARGE');
});

test('an upstream that dies mid-stream ends the client stream cleanly with an error event', async () => {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-fault': 'die-mid-stream', 'x-demo-token-delay-ms': '5' },
    body: JSON.stringify(chat('demo-llm', { stream: true, max_tokens: 50 })),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  const events = text.split('\n\n').filter(Boolean);
  assert.ok(events.length >= 2);
  assert.match(events.at(-1)!, /^event: error\ndata: \{"error":\{"code":"PALISADE_UPSTREAM_UNAVAILABLE"/);
});

test('a client that disconnects aborts the upstream request', async () => {
  const ac = new AbortController();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    signal: ac.signal,
    headers: { 'content-type': 'application/json', 'x-demo-token-delay-ms': '100' },
    body: JSON.stringify(chat('demo-llm', { stream: true, max_tokens: 200 })),
  });
  const reader = res.body!.getReader();
  await reader.read();
  const pool = gw.gw.current.upstreams.get('llm')!.pool;
  assert.equal(pool.stats.running, 1, 'the upstream request is running');
  ac.abort();
  for (let i = 0; i < 50 && pool.stats.running > 0; i++) await sleep(20);
  assert.equal(pool.stats.running, 0, 'the upstream request was aborted, not left to stream for 20 s');
});

test('5xx bursts open the circuit; it recovers after the cooldown', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await postJson(`${gw.url}/v1/chat/completions`, chat(), { 'x-demo-fault': 'status-503' });
    assert.equal(r.status, 503);
  }
  const open = await postJson(`${gw.url}/v1/chat/completions`, chat());
  assert.equal(open.json.error.code, 'PALISADE_CIRCUIT_OPEN');
  assert.ok(Number(open.headers.get('retry-after')) >= 1);
  await sleep(1100);
  const ok = await postJson(`${gw.url}/v1/chat/completions`, chat());
  assert.equal(ok.status, 200);
  assert.equal(gw.gw.current.upstreams.get('llm')!.breaker.state, 'closed');
});

test('slow headers (slowloris) are cut off by headersTimeout', async () => {
  const t = await startGateway(config(llm.url).replace('bodyLimit: 64kb', 'bodyLimit: 64kb\n  headersTimeout: 1s\n  requestTimeout: 2s'));
  try {
    const { port } = new URL(t.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n');
    let got = '';
    sock.on('data', (d) => (got += d));
    const closed = await new Promise<boolean>((resolve) => {
      sock.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 5000).unref();
    });
    assert.ok(closed, 'the connection was closed');
    assert.match(got, /^HTTP\/1\.1 408/);
    assert.match(got, /PALISADE_REQUEST_TIMEOUT/);
  } finally {
    await t.stop();
  }
});

test('a slow POST body is cut off by requestTimeout (fastify would wait forever by default)', async () => {
  const t = await startGateway(config(llm.url).replace('bodyLimit: 64kb', 'bodyLimit: 64kb\n  headersTimeout: 1s\n  requestTimeout: 2s'));
  try {
    await resetStats();
    const { port } = new URL(t.url);
    const sock = connect(Number(port), '127.0.0.1');
    sock.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":');
    const drip = setInterval(() => sock.writable && sock.write(' '), 300);
    let got = '';
    sock.on('data', (d) => (got += d));
    const closed = await new Promise<boolean>((resolve) => {
      sock.on('close', () => resolve(true));
      sock.on('error', () => {});
      setTimeout(() => resolve(false), 6000).unref();
    });
    clearInterval(drip);
    assert.ok(closed, 'the connection was closed while the client was still dripping');
    assert.match(got, /^HTTP\/1\.1 408/);
    assert.equal((await stats()).requests, 0);
  } finally {
    await t.stop();
  }
});

test('readiness follows the upstreams; health is always up', async () => {
  assert.equal((await fetch(`${gw.adminUrl}/healthz`)).status, 200);
  const r = await fetch(`${gw.adminUrl}/readyz`);
  assert.equal(r.status, 503, 'upstream "down" is unreachable');
  const body = (await r.json()) as any;
  assert.equal(body.upstreams.llm.reachable, true);
  assert.equal(body.upstreams.down.reachable, false);
});

test('hot reload: a good config swaps in; a bad one is refused and the old keeps serving', async () => {
  const t = await startGateway(config(llm.url));
  try {
    writeFileSync(t.file, config(llm.url).replace('- { name: small,', '- { name: added, upstream: llm, upstreamModel: demo-llm }\n  - { name: small,'));
    assert.deepEqual(await t.gw.reload(), { ok: true });
    assert.equal((await postJson(`${t.url}/v1/chat/completions`, chat('added'))).status, 200);
    writeFileSync(t.file, config(llm.url).replace('upstream: llm }', 'upstream: llm2 }'));
    const bad = await t.gw.reload();
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.problems.join('\n') : '', /models\[0\]\.upstream: unknown upstream "llm2"/);
    assert.equal((await postJson(`${t.url}/v1/chat/completions`, chat('added'))).status, 200, 'the old config still serves');
  } finally {
    await t.stop();
  }
});

test('hot reload on file change; a request in flight finishes on the old config', async () => {
  const t = await startGateway(config(llm.url), { watch: true });
  try {
    const slow = fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-demo-token-delay-ms': '20' },
      body: JSON.stringify(chat('demo-llm', { stream: true, max_tokens: 30 })),
    }).then((r) => r.text());
    await sleep(100);
    writeFileSync(t.file, config(llm.url).replace('{ name: demo-llm, upstream: llm }', '{ name: renamed, upstream: llm, upstreamModel: demo-llm }'));
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(100);
      status = (await postJson(`${t.url}/v1/chat/completions`, chat('renamed'))).status;
    }
    assert.equal(status, 200, 'the changed file was picked up');
    const text = await slow;
    assert.match(text, /data: \[DONE\]\n\n$/, 'the in-flight stream completed');
  } finally {
    await t.stop();
  }
});
