/**
 * Hostile HTTP through raw sockets (node:net, so nothing normalizes the bytes): request
 * smuggling shapes, header injection, oversized heads, odd methods and targets, and
 * identity claims from peers that are not trusted proxies. Every case ends in a
 * response in the one error shape (or a normal answer), and nothing reaches the demo
 * upstream in a form the gateway did not parse itself: its /__stats says what arrived.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestContext } from '../../src/pipeline/context.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorCode, rawExchange } from '../helpers/raw-http.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;
/** The same, with 127.0.0.1 as a trusted proxy. */
let behindProxy: TestGateway;

const config = (llmUrl: string, server = '') => `
server:
  maxHeaderSize: 8kb
${server}
upstreams:
  llm: { protocol: openai, url: "${llmUrl}" }
  rawllm: { protocol: raw, url: "${llmUrl}/v1" }
models:
  - { name: demo-llm, upstream: llm }
  - { name: r, upstream: rawllm, pathPrefix: /raw/r }
`;

interface Stats {
  requests: number;
  lastPath?: string;
  lastBody?: unknown;
  lastHeaders?: Record<string, string>;
}
async function stats(): Promise<Stats> {
  return (await fetch(`${llm.url}/__stats`)).json() as Promise<Stats>;
}
async function resetStats(): Promise<void> {
  await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
}

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  gw = await startGateway(config(llm.url));
  behindProxy = await startGateway(config(llm.url, '  trustedProxies: ["127.0.0.1"]'));
});
after(async () => {
  await gw?.stop();
  await behindProxy?.stop();
  await llm?.stop();
});

const BODY = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const PARSED = JSON.parse(BODY);
// A second request hidden in the first one's body: if any hop framed the body
// differently, the upstream would see it as a request of its own.
const SMUGGLED = `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"model":"demo-llm","prompt":"smuggled"}`;
const head = (lines: string[]) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
const chunked = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n0\r\n\r\n`;

const framing: [string, string][] = [
  ['Content-Length with Transfer-Encoding', head([`Content-Length: ${BODY.length}`, 'Transfer-Encoding: chunked']) + chunked(BODY) + SMUGGLED],
  ['Transfer-Encoding with Content-Length (CL.TE)', head(['Transfer-Encoding: chunked', 'Content-Length: 3']) + `0\r\n\r\n${SMUGGLED}`],
  ['duplicate Content-Length, differing', head([`Content-Length: ${BODY.length}`, 'Content-Length: 5']) + BODY],
  ['duplicate Content-Length, equal', head([`Content-Length: ${BODY.length}`, `Content-Length: ${BODY.length}`]) + BODY],
  ['Content-Length list', head([`Content-Length: ${BODY.length}, ${BODY.length}`]) + BODY],
  ['Content-Length with a sign', head([`Content-Length: +${BODY.length}`]) + BODY],
  ['negative Content-Length', head(['Content-Length: -1']) + BODY],
  ['Content-Length past 2^64', head(['Content-Length: 99999999999999999999999']) + BODY],
  ['Transfer-Encoding chunked, identity', head(['Transfer-Encoding: chunked, identity']) + chunked(BODY)],
  ['Transfer-Encoding not chunked last', head(['Transfer-Encoding: gzip']) + BODY],
  ['Transfer-Encoding with a space before the colon', head(['Transfer-Encoding : chunked']) + chunked(BODY)],
  ['Transfer-Encoding twice', head(['Transfer-Encoding: chunked', 'Transfer-Encoding: identity']) + chunked(BODY)],
  ['Transfer-Encoding xchunked', head(['Transfer-Encoding: xchunked']) + chunked(BODY)],
  ['invalid chunk size', head(['Transfer-Encoding: chunked']) + `zz\r\n${BODY}\r\n0\r\n\r\n`],
  ['chunk size overflow', head(['Transfer-Encoding: chunked']) + `ffffffffffffffffff1\r\n${BODY}\r\n0\r\n\r\n`],
  ['chunk size shorter than the chunk', head(['Transfer-Encoding: chunked']) + `5\r\n${BODY}\r\n0\r\n\r\n`],
  ['chunk without its CRLF', head(['Transfer-Encoding: chunked']) + `${BODY.length.toString(16)}\r\n${BODY}0\r\n\r\n`],
  ['bare LF line ends', head([`Content-Length: ${BODY.length}`]).replace(/\r\n/g, '\n') + BODY],
  ['obs-fold (a folded header line)', head(['X-Note: a', ' folded', `Content-Length: ${BODY.length}`]) + BODY],
  ['CR inside a header value', head(['X-Note: a\rX-Injected: 1', `Content-Length: ${BODY.length}`]) + BODY],
  ['LF inside a header value', head(['X-Note: a\nX-Injected: 1', `Content-Length: ${BODY.length}`]) + BODY],
  ['NUL inside a header value', head(['X-Note: a\0b', `Content-Length: ${BODY.length}`]) + BODY],
  ['space inside a header name', head(['X Note: a', `Content-Length: ${BODY.length}`]) + BODY],
  ['header line without a colon', head(['X-Note', `Content-Length: ${BODY.length}`]) + BODY],
  ['HTTP/2 preface on HTTP/1.1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['NUL in the request target', 'GET /v1/models\0 HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['unknown HTTP version', 'GET /v1/models HTTP/1.7\r\nHost: x\r\n\r\n'],
];

for (const [name, bytes] of framing) {
  test(`framing: ${name} is refused or read exactly once, never smuggled`, async () => {
    await resetStats();
    // Keep-alive on purpose: a framing mix-up would show as a second request.
    const r = await rawExchange(gw.url, bytes, { timeoutMs: 700 });
    assert.ok(r.status !== undefined, `an HTTP answer, got ${JSON.stringify(r.raw.slice(0, 80))}`);
    const s = await stats();
    if (r.status === 200) {
      assert.equal(s.requests, 1, 'exactly one request reached the upstream');
      assert.deepEqual(s.lastBody, PARSED, 'the body the gateway parsed, re-serialized');
      assert.equal(s.lastHeaders?.['x-injected'], undefined);
      assert.equal(s.lastHeaders?.['transfer-encoding'], undefined, 'the gateway frames the forwarded body itself');
    } else {
      assert.equal(r.status, 400, r.raw.slice(0, 200));
      assert.equal(errorCode(r), 'PALISADE_BAD_REQUEST');
      assert.equal(r.headers.connection, 'close');
      assert.equal(s.requests, 0, 'nothing reached the upstream');
    }
    assert.ok(!r.raw.includes('"smuggled"') && !/HTTP\/1\.1 \d{3}[^]*HTTP\/1\.1 \d{3}/.test(r.raw), 'one answer only');
  });
}

test('oversized headers: 431 in the error shape, nothing forwarded', async () => {
  await resetStats();
  const big = await rawExchange(gw.url, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
  assert.equal(big.status, 431);
  assert.equal(errorCode(big), 'PALISADE_HEADERS_TOO_LARGE');
  // Node counts only names and values toward maxHeaderSize, and past its header count
  // drops the rest silently: many short lines are refused by count instead.
  const many = await rawExchange(gw.url, `GET /raw/r/models HTTP/1.1\r\nHost: x\r\n${'x-h: 1\r\n'.repeat(1500)}\r\n`);
  assert.equal(many.status, 431);
  assert.equal(errorCode(many), 'PALISADE_HEADERS_TOO_LARGE');
  const justOver = await rawExchange(gw.url, `GET /raw/r/models HTTP/1.1\r\nHost: x\r\n${'x-h: 1\r\n'.repeat(128)}\r\n`);
  assert.equal(justOver.status, 431, '129 lines with Host, one over maxHeaderCount');
  const atBound = await rawExchange(gw.url, `GET /raw/r/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${'x-h: 1\r\n'.repeat(126)}\r\n`);
  assert.equal(atBound.status, 200, '128 lines pass');
  const target = await rawExchange(gw.url, `GET /raw/r/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.equal(target.status, 431, 'the request target counts toward the header bound');
  assert.equal((await stats()).requests, 1, 'only the request within the bounds');
});

test('regression: paths the router cannot decode were answered outside the one error shape', async () => {
  for (const path of ['/%', '/v2/models/%zz/infer', '/raw/r/%E0%A4%A', '/raw/r/%c0%ae%c0%ae/x']) {
    await resetStats();
    const r = await rawExchange(gw.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 404, path);
    assert.equal(errorCode(r), 'PALISADE_NOT_FOUND', path);
    assert.equal((await stats()).requests, 0, path);
  }
});

test('regression: methods outside the route table (PROPFIND, TRACE) were answered outside the one error shape (or forwarded by raw routes), and CONNECT not at all', async () => {
  await resetStats();
  for (const m of ['PROPFIND', 'TRACE', 'PURGE']) {
    const r = await rawExchange(gw.url, `${m} /raw/r/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(r.status, 405, m);
    assert.equal(errorCode(r), 'PALISADE_METHOD_NOT_ALLOWED', m);
  }
  // A method node's parser does not know is malformed HTTP.
  const foo = await rawExchange(gw.url, 'FOO /raw/r/models HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(foo.status, 400);
  assert.equal(errorCode(foo), 'PALISADE_BAD_REQUEST');
  const c = await rawExchange(gw.url, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
  assert.equal(c.status, 405);
  assert.equal(errorCode(c), 'PALISADE_METHOD_NOT_ALLOWED');
  assert.ok(c.closed);
  assert.equal((await stats()).requests, 0);
});

test('regression: a request without Host, or with an unknown Expect, was answered outside the one error shape', async () => {
  await resetStats();
  const noHost = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n');
  assert.equal(noHost.status, 400);
  assert.equal(errorCode(noHost), 'PALISADE_BAD_REQUEST');
  const http10 = await rawExchange(gw.url, 'GET /v1/models HTTP/1.0\r\n\r\n');
  assert.equal(http10.status, 200, 'HTTP/1.0 has no Host requirement');
  const expect = await rawExchange(gw.url, head(['Expect: teapot', `Content-Length: ${BODY.length}`]) + BODY);
  assert.equal(expect.status, 417);
  assert.equal(errorCode(expect), 'PALISADE_EXPECTATION_FAILED');
  const cont = await rawExchange(gw.url, head(['Expect: 100-continue', `Content-Length: ${BODY.length}`, 'Connection: close']) + BODY);
  assert.match(cont.raw, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  const s = await stats();
  assert.equal(s.requests, 1);
  assert.equal(s.lastHeaders?.expect, undefined, 'Expect is hop-by-hop');
});

test('pipelined requests are answered in order, each parsed and forwarded on its own', async () => {
  await resetStats();
  const two = head([`Content-Length: ${BODY.length}`]) + BODY + 'GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const r = await rawExchange(gw.url, two);
  assert.equal((r.raw.match(/HTTP\/1\.1 200 /g) ?? []).length, 2);
  assert.equal((await stats()).requests, 1, 'GET /v1/models is answered by the gateway');
});

test('Upgrade is not a tunnel: the request is answered as a plain request and Upgrade is not forwarded', async () => {
  await resetStats();
  const r = await rawExchange(gw.url, 'GET /raw/r/models HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(r.status, 200);
  const s = await stats();
  assert.equal(s.requests, 1);
  assert.equal(s.lastHeaders?.upgrade, undefined);
});

const CLAIMS: Record<string, string> = {
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'bank.example',
  'x-forwarded-user': 'admin',
  'x-forwarded-email': 'admin@example.com',
  forwarded: 'for=6.6.6.6;proto=https',
  'x-real-ip': '6.6.6.6',
  'true-client-ip': '6.6.6.6',
  'x-auth-request-user': 'admin',
  'x-remote-user': 'admin',
  'x-palisade-principal': 'admin',
};

async function withClaims(url: string): Promise<{ upstream: Record<string, string>; clientAddress: string }> {
  await resetStats();
  let clientAddress = '';
  const g = url === gw.url ? gw : behindProxy;
  g.gw.services.observer.requestDone = (ctx: RequestContext) => void (clientAddress = ctx.http.clientAddress);
  const claimLines = Object.entries(CLAIMS).map(([k, v]) => `${k}: ${v}`);
  const r = await rawExchange(url, head([...claimLines, `Content-Length: ${BODY.length}`, 'Connection: close']) + BODY);
  assert.equal(r.status, 200, r.raw.slice(0, 300));
  for (let i = 0; i < 50 && !clientAddress; i++) await sleep(10);
  delete g.gw.services.observer.requestDone;
  return { upstream: (await stats()).lastHeaders ?? {}, clientAddress };
}

test('regression: x-forwarded-for and identity claims from an untrusted peer reached the upstream', async () => {
  const { upstream, clientAddress } = await withClaims(gw.url);
  assert.equal(clientAddress, '127.0.0.1', 'the gateway keys the client by its socket');
  assert.equal(upstream['x-forwarded-for'], '127.0.0.1', 'the chain starts at the gateway');
  assert.equal(upstream['x-forwarded-proto'], 'http');
  assert.equal(upstream['x-forwarded-host'], 'x');
  for (const k of ['forwarded', 'x-real-ip', 'true-client-ip', 'x-forwarded-user', 'x-forwarded-email', 'x-auth-request-user', 'x-remote-user', 'x-palisade-principal']) {
    assert.equal(upstream[k], undefined, `${k} from an untrusted peer is dropped`);
  }
});

test('a trusted proxy speaks for the client: its chain is extended, its claims pass, the gateway namespace does not', async () => {
  const { upstream, clientAddress } = await withClaims(behindProxy.url);
  assert.equal(clientAddress, '6.6.6.6');
  assert.equal(upstream['x-forwarded-for'], '6.6.6.6, 127.0.0.1', 'the proxy (our peer) is appended, not the client again');
  assert.equal(upstream['x-forwarded-proto'], 'https');
  assert.equal(upstream['x-forwarded-user'], 'admin');
  assert.equal(upstream.forwarded, CLAIMS.forwarded);
  assert.equal(upstream['x-palisade-principal'], undefined, 'x-palisade-* is the gateway\'s own namespace');
});
