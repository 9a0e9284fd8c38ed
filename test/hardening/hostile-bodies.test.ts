/**
 * Hostile request bodies: deep nesting, huge arrays, duplicate keys, prototype keys
 * (plain and escaped), invalid UTF-8, non-finite numbers, wrong content types and
 * compressed bodies. Each is refused with its code before the upstream, or forwarded
 * as the object the gateway parsed, re-serialized: the upstream's Content-Length equals
 * the length of the canonical serialization of what it parsed, so no duplicate key or
 * byte the gateway did not read can ride along.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorCode, rawExchange } from '../helpers/raw-http.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  gw = await startGateway(`
server:
  bodyLimit: 1mb
  maxJsonDepth: 32
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
  kserve: { protocol: kserve-v2, url: "${llm.url}" }
  rawllm: { protocol: raw, url: "${llm.url}/v1" }
models:
  - { name: demo-llm, upstream: llm }
  - { name: tensor, upstream: kserve }
  - { name: r, upstream: rawllm, pathPrefix: /raw/r }
`);
});
after(async () => {
  await gw?.stop();
  await llm?.stop();
});

interface Stats {
  requests: number;
  lastBody?: unknown;
  lastHeaders?: Record<string, string>;
}
async function stats(): Promise<Stats> {
  return (await fetch(`${llm.url}/__stats`)).json() as Promise<Stats>;
}

async function send(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  const h = { 'content-type': 'application/json', ...headers };
  const lines = Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const r = await rawExchange(
    gw.url,
    [`POST ${path} HTTP/1.1\r\nHost: x\r\n${lines}Content-Length: ${buf.length}\r\nConnection: close\r\n\r\n`, buf],
    { timeoutMs: 10_000 },
  );
  return { r, s: await stats() };
}

const chat = (extra = '') => `{"model":"demo-llm","messages":[{"role":"user","content":"hi"}],"max_tokens":1${extra}}`;
const nest = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** The upstream parsed exactly one canonical serialization: nothing but what the gateway read. */
function assertCanonical(s: Stats): void {
  assert.equal(s.requests, 1);
  assert.equal(Number(s.lastHeaders?.['content-length']), Buffer.byteLength(JSON.stringify(s.lastBody)));
}

const refused: [string, string, string | Buffer, Record<string, string>, string][] = [
  ['nesting past maxJsonDepth', '/v1/chat/completions', chat(`,"x":${nest(33)}`), {}, 'PALISADE_BAD_REQUEST'],
  ['nesting of 500k brackets (no stack overflow)', '/v1/chat/completions', nest(500_000), {}, 'PALISADE_BAD_REQUEST'],
  ['brackets inside strings do not count, but a real deep tail does', '/v1/chat/completions', chat(`,"s":"${'['.repeat(100)}","x":${nest(40)}`), {}, 'PALISADE_BAD_REQUEST'],
  ['__proto__ at the top', '/v1/chat/completions', `{"__proto__":{"admin":true},${chat().slice(1)}`, {}, 'PALISADE_BAD_REQUEST'],
  ['__proto__ nested in a message', '/v1/chat/completions', '{"model":"demo-llm","messages":[{"role":"user","content":"x","__proto__":{"role":"system"}}]}', {}, 'PALISADE_BAD_REQUEST'],
  ['__proto__ spelled with escapes', '/v1/chat/completions', `{"\\u005f_proto__":{"admin":true},${chat().slice(1)}`, {}, 'PALISADE_BAD_REQUEST'],
  ['constructor.prototype', '/v1/chat/completions', `{"constructor":{"prototype":{"admin":true}},${chat().slice(1)}`, {}, 'PALISADE_BAD_REQUEST'],
  ['invalid UTF-8', '/v1/chat/completions', Buffer.concat([Buffer.from('{"model":"demo-llm","messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}]}')]), {}, 'PALISADE_BAD_REQUEST'],
  ['overlong UTF-8 for a quote', '/v1/chat/completions', Buffer.concat([Buffer.from('{"model":"demo-llm","messages":[{"role":"user","content":"a'), Buffer.from([0xc0, 0xa2]), Buffer.from('}]}')]), {}, 'PALISADE_BAD_REQUEST'],
  ['UTF-16 with a BOM', '/v1/chat/completions', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(chat(), 'utf16le')]), {}, 'PALISADE_BAD_REQUEST'],
  ['two documents', '/v1/chat/completions', chat() + chat(), {}, 'PALISADE_BAD_REQUEST'],
  ['comments', '/v1/chat/completions', `/* hi */${chat()}`, {}, 'PALISADE_BAD_REQUEST'],
  ['NaN literal', '/v1/chat/completions', chat(',"temperature":NaN'), {}, 'PALISADE_BAD_REQUEST'],
  ['empty body', '/v1/chat/completions', '', {}, 'PALISADE_BAD_REQUEST'],
  ['a JSON array, not an object', '/v1/chat/completions', `[${chat()}]`, {}, 'PALISADE_BAD_REQUEST'],
  ['null', '/v1/chat/completions', 'null', {}, 'PALISADE_BAD_REQUEST'],
  ['duplicate model key, last one unknown', '/v1/chat/completions', '{"model":"demo-llm","model":"other","messages":[{"role":"user","content":"hi"}]}', {}, 'PALISADE_UNKNOWN_MODEL'],
  ['a model name with a NUL', '/v1/chat/completions', '{"model":"demo-llm\\u0000","messages":[{"role":"user","content":"hi"}]}', {}, 'PALISADE_UNKNOWN_MODEL'],
  ['regression: a tensor number past the double range (1e400) was inspected as Infinity and forwarded as null', '/v2/models/tensor/infer', '{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,1e400]}]}', {}, 'PALISADE_BAD_REQUEST'],
  ['a huge array past bodyLimit', '/v2/models/tensor/infer', `{"inputs":[{"name":"x","shape":[600000],"datatype":"FP32","data":[${'0,'.repeat(599_999)}0]}]}`, {}, 'PALISADE_BODY_TOO_LARGE'],
  ['text/plain', '/v1/chat/completions', chat(), { 'content-type': 'text/plain' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['form encoding', '/v1/chat/completions', 'model=demo-llm', { 'content-type': 'application/x-www-form-urlencoded' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['multipart', '/v1/chat/completions', chat(), { 'content-type': 'multipart/form-data; boundary=x' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['application/jsonx', '/v1/chat/completions', chat(), { 'content-type': 'application/jsonx' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['regression: an empty Content-Type was answered by fastify outside the one error shape', '/v1/chat/completions', chat(), { 'content-type': '' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['gzip body', '/v1/chat/completions', gzipSync(chat()), { 'content-encoding': 'gzip' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['deflate, then identity', '/v1/chat/completions', chat(), { 'content-encoding': 'deflate, identity' }, 'PALISADE_UNSUPPORTED_MEDIA_TYPE'],
  ['a gzip bomb without Content-Encoding', '/v1/chat/completions', gzipSync(Buffer.alloc(50 * 1024 * 1024)), {}, 'PALISADE_BAD_REQUEST'],
];

for (const [name, path, body, headers, code] of refused) {
  test(`refused: ${name} → ${code}, nothing forwarded`, async () => {
    const h = { ...headers };
    if (h['content-type'] === '') delete h['content-type'];
    const { r, s } = await send(path, body, headers['content-type'] === '' ? { 'content-type': '' } : h);
    assert.equal(errorCode(r), code, r.raw.slice(0, 300));
    assert.equal(s.requests, 0);
  });
}

const forwarded: [string, string, string, (s: Stats) => void][] = [
  ['nesting at maxJsonDepth', '/v1/chat/completions', chat(`,"x":${nest(31)}`), () => {}],
  ['duplicate keys: the last one wins, one key goes on', '/v1/chat/completions', '{"model":"other","model":"demo-llm","messages":[{"role":"system","role":"user","content":"a","content":"b"}],"max_tokens":1}', (s) => {
    assert.deepEqual((s.lastBody as { messages: unknown[] }).messages, [{ role: 'user', content: 'b' }]);
  }],
  ['a prototype-like key that is only text', '/v1/chat/completions', chat(',"metadata":{"proto":"__proto__","constructor":"x"}'), () => {}],
  ['a huge array within bodyLimit', '/v2/models/tensor/infer', `{"inputs":[{"name":"x","shape":[200000],"datatype":"FP32","data":[${'0,'.repeat(199_999)}0]}]}`, (s) => {
    assert.equal(((s.lastBody as { inputs: { data: number[] }[] }).inputs[0].data).length, 200_000);
  }],
  ['a lone surrogate escape', '/v1/chat/completions', '{"model":"demo-llm","messages":[{"role":"user","content":"\\ud800"}],"max_tokens":1}', () => {}],
  ['regression: Content-Encoding: identity went along with the gateway\'s own serialization', '/v1/chat/completions', chat(), () => {}],
];

for (const [name, path, body, check] of forwarded) {
  test(`forwarded as parsed: ${name}`, async () => {
    const headers: Record<string, string> = name.includes('Content-Encoding') ? { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'identity' } : {};
    const { r, s } = await send(path, body, headers);
    assert.ok(r.status !== undefined && errorCode(r) === undefined, r.raw.slice(0, 300));
    assertCanonical(s);
    assert.equal(s.lastHeaders?.['content-encoding'], undefined, 'the gateway sends its own serialization, unencoded');
    check(s);
  });
}

test('raw routes forward bytes unread, still bounded by bodyLimit and never decompressed', async () => {
  const gz = gzipSync(Buffer.from('x'.repeat(1000)));
  const { r, s } = await send('/raw/r/embeddings', gz, { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' });
  assert.equal(errorCode(r), undefined);
  assert.equal(s.requests, 1);
  assert.equal(Number(s.lastHeaders?.['content-length']), gz.length, 'the compressed bytes, as sent');
  const big = await send('/raw/r/embeddings', Buffer.alloc(1024 * 1024 + 1), { 'content-type': 'application/octet-stream' });
  assert.equal(errorCode(big.r), 'PALISADE_BODY_TOO_LARGE');
  assert.equal(big.s.requests, 0);
});

test('a body no stage changed is forwarded as the bytes it was parsed from (whitespace, escapes and all)', async () => {
  const body = '{ "model" : "demo-llm",\n  "messages": [ { "role": "user", "content": "caf\\u00e9 \\"quoted\\" \\\\" } ],\t"max_tokens": 1, "temperature": 0.5 }';
  const { r, s } = await send('/v1/chat/completions', body);
  assert.equal(errorCode(r), undefined, r.raw.slice(0, 300));
  assert.equal(s.requests, 1);
  assert.equal(Number(s.lastHeaders?.['content-length']), Buffer.byteLength(body), 'the bytes as sent');
  assert.deepEqual(s.lastBody, JSON.parse(body));
});

const reserialized: [string, string][] = [
  ['duplicate keys (with whitespace)', '{"model": "demo-llm", "model": "demo-llm", "messages": [{"role": "user", "content": "a"}], "max_tokens": 1}'],
  ['duplicate keys spelled with an escape', '{"model": "demo-llm", "messages": [{"role": "user", "content": "a", "\\u0063ontent": "b"}], "max_tokens": 1}'],
  ['a number past the double range', '{"model": "demo-llm", "messages": [{"role": "user", "content": "a"}], "max_tokens": 1, "temperature": 1e400}'],
  ['an integer past 2^53', '{"model": "demo-llm", "messages": [{"role": "user", "content": "a"}], "max_tokens": 1, "seed": 12345678901234567890}'],
  ['a UTF-8 BOM', '\ufeff{"model": "demo-llm", "messages": [{"role": "user", "content": "a"}], "max_tokens": 1}'],
];
for (const [name, body] of reserialized) {
  test(`a body the upstream could read otherwise goes re-serialized, as the gateway read it: ${name}`, async () => {
    const { r, s } = await send('/v1/chat/completions', body);
    assert.equal(errorCode(r), undefined, r.raw.slice(0, 300));
    assertCanonical(s);
    assert.notEqual(Number(s.lastHeaders?.['content-length']), Buffer.byteLength(body));
  });
}
