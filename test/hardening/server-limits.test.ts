/**
 * The listener's limits, end to end through real sockets: overload shedding (in-flight
 * bound, queue, event-loop lag), slow headers and slow bodies cut off, idle keep-alive
 * connections closed, connections per client and in total bounded, and the answer to
 * requests that arrive while draining.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { errorCode, rawExchange } from '../helpers/raw-http.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;

const config = (server: string) => `
server:
${server}
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
models:
  - { name: demo-llm, upstream: llm }
`;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
});
after(async () => {
  await llm?.stop();
});

async function upstreamRequests(): Promise<number> {
  return ((await (await fetch(`${llm.url}/__stats`)).json()) as { requests: number }).requests;
}

const BODY = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const post = (headers = '') =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`;

test('past maxInFlight and a full queue: 503 PALISADE_OVERLOADED with Retry-After, before any upstream work; a queued request runs when a slot frees', async () => {
  const gw = await startGateway(config('  overload: { maxInFlight: 2, maxQueued: 1, queueTimeout: 5s, retryAfter: 2s, maxEventLoopDelay: 0 }'));
  try {
    await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
    const slow = [0, 1].map(() => rawExchange(gw.url, post('x-demo-fault: slow-headers:800\r\n')));
    for (let i = 0; i < 200 && gw.gw.admission.inFlight < 2; i++) await sleep(5);
    const queued = rawExchange(gw.url, post());
    for (let i = 0; i < 200 && gw.gw.admission.queued < 1; i++) await sleep(5);
    const shed = await rawExchange(gw.url, post());
    assert.equal(shed.status, 503);
    assert.equal(errorCode(shed), 'PALISADE_OVERLOADED');
    assert.equal(shed.headers['retry-after'], '2');
    const done = await Promise.all([...slow, queued]);
    assert.deepEqual(done.map((r) => r.status), [200, 200, 200], 'the queued request ran after a slot freed');
    assert.equal(await upstreamRequests(), 3, 'the shed request never reached the upstream');
    assert.equal(gw.gw.admission.inFlight, 0);
  } finally {
    await gw.stop();
  }
});

test('a queued request that waits past queueTimeout is shed with 503; a shed POST keeps its connection unless a large body is left unread', async () => {
  const gw = await startGateway(config('  overload: { maxInFlight: 1, maxQueued: 4, queueTimeout: 200ms, maxEventLoopDelay: 0 }'));
  try {
    const slow = rawExchange(gw.url, post('x-demo-fault: slow-headers:1500\r\n'));
    for (let i = 0; i < 200 && gw.gw.admission.inFlight < 1; i++) await sleep(5);
    // Headers only: the body is still to come when the request is shed.
    const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    const small = await rawExchange(gw.url, head(BODY.length), { timeoutMs: 500 });
    assert.equal(small.status, 503);
    assert.equal(errorCode(small), 'PALISADE_OVERLOADED');
    assert.equal(small.headers.connection, 'keep-alive', 'a small rest is read and dropped, and the client keeps its connection');
    const large = await rawExchange(gw.url, head(1_000_000), { timeoutMs: 3000 });
    assert.equal(large.status, 503);
    assert.equal(large.headers.connection, 'close', 'a large rest is not read: the connection closes');
    assert.ok(large.closed);
    assert.equal((await slow).status, 200);
  } finally {
    await gw.stop();
  }
});

test('while the event loop lags past maxEventLoopDelay, new requests are shed; they are admitted again once it recovers', async () => {
  const gw = await startGateway(config('  overload: { maxEventLoopDelay: 20ms, sampleInterval: 25ms }'));
  // Keep this process's loop (the gateway's) lagging: 45 ms of work every 50 ms.
  const hog = setInterval(() => {
    const end = performance.now() + 45;
    while (performance.now() < end);
  }, 50);
  try {
    for (let i = 0; i < 100 && !gw.gw.admission.lagging; i++) await sleep(20);
    assert.ok(gw.gw.admission.lagging, 'the lag was seen');
    const r = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 503);
    assert.equal(errorCode(r), 'PALISADE_OVERLOADED');
    clearInterval(hog);
    for (let i = 0; i < 100 && gw.gw.admission.lagging; i++) await sleep(20);
    const ok = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(ok.status, 200);
  } finally {
    clearInterval(hog);
    await gw.stop();
  }
});

test('slowloris: headers that trickle in are cut off at headersTimeout, however steady the trickle', async () => {
  const gw = await startGateway(config('  headersTimeout: 1s\n  requestTimeout: 30s'));
  try {
    const line = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ';
    const r = await rawExchange(gw.url, [line, ...'a'.repeat(40).split('')], { gapMs: 100, timeoutMs: 8000 });
    assert.ok(r.closed, 'the connection was closed');
    assert.equal(r.status, 408);
    assert.equal(errorCode(r), 'PALISADE_REQUEST_TIMEOUT');
  } finally {
    await gw.stop();
  }
});

test('slow POST: a body that trickles in is cut off at requestTimeout and never forwarded', async () => {
  const gw = await startGateway(config('  headersTimeout: 1s\n  requestTimeout: 1500ms'));
  try {
    await fetch(`${llm.url}/__stats/reset`, { method: 'POST' });
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n`;
    const r = await rawExchange(gw.url, [head, ...BODY.split('')], { gapMs: 150, timeoutMs: 8000 });
    assert.ok(r.closed);
    assert.equal(r.status, 408);
    assert.equal(errorCode(r), 'PALISADE_REQUEST_TIMEOUT');
    assert.equal(await upstreamRequests(), 0);
    assert.equal(gw.gw.admission.inFlight, 0, 'the request left the admission count');
  } finally {
    await gw.stop();
  }
});

test('an idle keep-alive connection is closed after keepAliveTimeout; a silent one after headersTimeout', async () => {
  const gw = await startGateway(config('  keepAliveTimeout: 300ms\n  headersTimeout: 1s'));
  try {
    const idle = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 6000 });
    assert.equal(idle.status, 200);
    assert.ok(idle.closed, 'closed by the server, not by the wait running out');
    const silent = await rawExchange(gw.url, [], { timeoutMs: 6000 });
    assert.ok(silent.closed);
  } finally {
    await gw.stop();
  }
});

function open(url: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

function closedSoon(s: Socket): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 1500);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

test('connections per client are bounded, busy or idle; a closed one frees its place; trusted proxies are exempt', async () => {
  const gw = await startGateway(config('  maxConnectionsPerClient: 3\n  headersTimeout: 10s'));
  const proxied = await startGateway(config('  maxConnectionsPerClient: 3\n  trustedProxies: ["127.0.0.1"]'));
  const socks: Socket[] = [];
  try {
    for (let i = 0; i < 3; i++) socks.push(await open(gw.url));
    const extra = await open(gw.url);
    socks.push(extra);
    assert.ok(await closedSoon(extra), 'the fourth connection was closed at once');
    assert.equal(gw.gw.connections.refused, 1);
    socks[0].destroy();
    await sleep(50);
    const r = await rawExchange(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 200, 'the freed place is usable');
    for (let i = 0; i < 5; i++) socks.push(await open(proxied.url));
    assert.equal(await closedSoon(socks.at(-1)!), false, 'a trusted proxy may hold more');
  } finally {
    for (const s of socks) s.destroy();
    await gw.stop();
    await proxied.stop();
  }
});

test('connections in total are bounded by maxConnections', async () => {
  const gw = await startGateway(config('  maxConnections: 2\n  maxConnectionsPerClient: 0'));
  const socks: Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) socks.push(await open(gw.url));
    const extra = await open(gw.url);
    socks.push(extra);
    assert.ok(await closedSoon(extra), 'the third connection was closed at once');
  } finally {
    for (const s of socks) s.destroy();
    await gw.stop();
  }
});

test("regression: requests arriving while draining got fastify's 503 instead of PALISADE_SHUTTING_DOWN", async () => {
  const gw = await startGateway(config('  drainTimeout: 5s'));
  try {
    // One keep-alive connection: a slow request, the drain starts, then a second request on it.
    const first = post('x-demo-fault: slow-headers:500\r\n').replace('Connection: close\r\n', '');
    const r = rawExchange(gw.url, [first, 'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n'], { gapMs: 1200, timeoutMs: 5000 });
    for (let i = 0; i < 200 && gw.gw.admission.inFlight < 1; i++) await sleep(5);
    const stopping = gw.gw.stop(5000);
    const out = await r;
    await stopping;
    assert.equal(out.status, 200, 'the request in flight finished');
    assert.match(out.raw, /HTTP\/1\.1 503 Service Unavailable\r\nconnection: close\r\n/);
    assert.match(out.raw, /"code":"PALISADE_SHUTTING_DOWN"/);
  } finally {
    await gw.stop();
  }
});
