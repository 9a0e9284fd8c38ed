/**
 * Upstream faults injected for real: the demo LLM server (a separate process) refuses,
 * resets, stalls, drips, floods and fails on request (`x-demo-fault`). Each fault must
 * end in its documented status and code (docs/lifecycle.md), in both delivery modes
 * (streamed through untouched, and read by a response stage), and leave nothing
 * behind: no request still running in the upstream pool, no admitted request, no
 * client socket, no timer over the baseline.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Outcome } from '../../src/pipeline/types.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { resources, settled, type ResourceCounts } from '../helpers/leaks.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;
let baseline: ResourceCounts;
const outcomes: Outcome[] = [];

/** A port that nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  const refusedPort = await closedPort();
  gw = await startGateway(`
upstreams:
  llm:
    protocol: openai
    url: "${llm.url}"
    timeouts: { connect: 500ms, headers: 1s, body: 400ms }
    maxResponseSize: 64kb
    circuitBreaker: { failureThreshold: 1000, cooldown: 1s }
  flaky:
    protocol: openai
    url: "${llm.url}"
    circuitBreaker: { failureThreshold: 3, cooldown: 400ms }
  refused:
    protocol: openai
    url: "http://127.0.0.1:${refusedPort}"
    retries: 1
    circuitBreaker: { failureThreshold: 1000, cooldown: 1s }
models:
  - { name: demo-llm, upstream: llm }
  - { name: read, upstream: llm, upstreamModel: demo-llm }
  - { name: flaky, upstream: flaky, upstreamModel: demo-llm }
  - { name: refused, upstream: refused }
`);
  // A response stage that reads every response of model "read": the buffered JSON and
  // the event-by-event SSE paths (output defenses run there), next to plain streaming.
  const rt = gw.gw.current;
  const reader = { name: 'test-reader', wantsResponse: (ctx: { model: { name: string } }) => ctx.model.name === 'read', response: () => undefined };
  Object.defineProperty(rt, 'pipeline', { value: new Pipeline([...rt.pipeline.stages, reader as never], gw.gw.services.observer) });
  gw.gw.services.observer.requestDone = (_ctx, o) => void outcomes.push(o);
  // One good request first, so that lazily created timers and sockets are in the baseline.
  await call('demo-llm');
  await call('read');
  await idle();
  baseline = resources();
});

after(async () => {
  await gw?.stop();
  await llm?.stop();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The response was cut before its end (a socket error after the headers). */
  cut: boolean;
}

/** One request on its own connection (no keep-alive), so no client socket stays open. */
function call(model: string, opts: { fault?: string; stream?: boolean } = {}): Promise<Reply> {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'tell me a story' }], max_tokens: 30, stream: opts.stream ?? false });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
  // `delay:MS` is the pause between SSE events (the first comes at once); the rest are demo faults.
  if (opts.fault?.startsWith('delay:')) headers['x-demo-token-delay-ms'] = opts.fault.slice(6);
  else if (opts.fault) headers['x-demo-fault'] = opts.fault;
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      let cut = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', () => (cut = true));
      res.on('aborted', () => (cut = true));
      res.on('close', () => resolve({ status: res.statusCode!, headers: res.headers, body: text, cut: cut || !res.complete }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits until the gateway holds nothing for finished requests. */
async function idle(): Promise<void> {
  for (let i = 0; i < 200 && busy(); i++) await sleep(10);
}

function busy(): string | undefined {
  const g = gw.gw;
  if (g.admission.inFlight !== 0) return `admitted requests: ${g.admission.inFlight}`;
  for (const [name, up] of g.current.upstreams) {
    const s = up.pool.stats;
    if (s.running !== 0 || s.pending !== 0) return `upstream ${name}: running ${s.running}, pending ${s.pending}`;
  }
  return undefined;
}

/** Upstream keep-alive connections are kept on purpose; everything else must be gone. */
function pooled(): ResourceCounts {
  let n = 0;
  for (const up of gw.gw.current.upstreams.values()) n += up.pool.stats.connected;
  return { TCPSocketWrap: n };
}

async function assertNoLeak(what: string): Promise<void> {
  const over = await settled(baseline, pooled, busy);
  assert.deepEqual(over, [], `${what}: leaked ${over.join('; ')}`);
}

function lastOutcome(): Outcome {
  const o = outcomes.at(-1);
  assert.ok(o, 'an outcome was recorded');
  return o;
}

/** The `event: error` that ends a stream early, or undefined. */
function sseError(body: string): string | undefined {
  const events = body.split('\n\n').filter(Boolean);
  const last = events.at(-1) ?? '';
  return /^event: error\ndata: \{"error":\{"code":"([A-Z_]+)"/.exec(last)?.[1];
}

interface Case {
  name: string;
  fault?: string;
  stream?: boolean;
  model?: string;
  /** Either a clean error reply... */
  status?: number;
  code?: string;
  /** ...or a 200 whose body is cut (non-SSE) or ends with an error event (SSE). */
  cutWith?: string;
}

const cases: Case[] = [
  { name: 'connection refused', model: 'refused', status: 502, code: 'PALISADE_UPSTREAM_UNAVAILABLE' },
  { name: 'reset before headers', fault: 'reset-before-headers', status: 502, code: 'PALISADE_UPSTREAM_UNAVAILABLE' },
  { name: 'headers too slow', fault: 'slow-headers:3000', status: 504, code: 'PALISADE_UPSTREAM_TIMEOUT' },
  { name: 'reset mid-body (JSON)', fault: 'die-mid-stream', cutWith: 'PALISADE_UPSTREAM_UNAVAILABLE' },
  { name: 'reset mid-SSE', fault: 'die-mid-stream', stream: true, cutWith: 'PALISADE_UPSTREAM_UNAVAILABLE' },
  // Headers, then silence past timeouts.body before the first byte: nothing was relayed yet.
  { name: 'slow drip before the first byte (JSON)', fault: 'slow-body:1500', status: 504, code: 'PALISADE_UPSTREAM_TIMEOUT' },
  { name: 'slow drip before the first byte (SSE)', fault: 'slow-body:1500', stream: true, status: 504, code: 'PALISADE_UPSTREAM_TIMEOUT' },
  { name: 'stall mid-SSE', fault: 'delay:1000', stream: true, cutWith: 'PALISADE_UPSTREAM_TIMEOUT' },
  { name: 'response over maxResponseSize (JSON, declared length)', fault: 'huge:200000', status: 502, code: 'PALISADE_UPSTREAM_RESPONSE_TOO_LARGE' },
  { name: 'response over maxResponseSize (SSE, no length)', fault: 'huge:200000', stream: true, cutWith: 'PALISADE_UPSTREAM_RESPONSE_TOO_LARGE' },
];

for (const c of cases) {
  for (const mode of ['streamed through', 'read by a stage'] as const) {
    test(`${c.name}, ${mode}: ${c.code ?? c.cutWith}, nothing leaked`, async () => {
      const model = c.model ?? (mode === 'read by a stage' ? 'read' : 'demo-llm');
      if (c.model && mode === 'read by a stage') return; // the fault is before any response
      const r = await call(model, { fault: c.fault, stream: c.stream });
      if (c.status !== undefined) {
        assert.equal(r.status, c.status, r.body);
        assert.equal(JSON.parse(r.body).error.code, c.code);
        assert.equal(lastOutcome().code, c.code);
      } else if (c.stream) {
        assert.equal(r.status, 200);
        assert.equal(sseError(r.body), c.cutWith, r.body.slice(-300));
        assert.equal(lastOutcome().code, c.cutWith);
      } else if (mode === 'read by a stage') {
        // Buffered before anything is sent: the client gets a clean error instead.
        const status = c.cutWith === 'PALISADE_UPSTREAM_TIMEOUT' ? 504 : 502;
        assert.equal(r.status, status, r.body);
        assert.equal(JSON.parse(r.body).error.code, c.cutWith);
        assert.equal(lastOutcome().code, c.cutWith);
      } else {
        // Already streaming a declared length: the connection is cut, so a truncated
        // body can never pass for a whole one.
        assert.equal(r.status, 200);
        assert.ok(r.cut, 'the client saw the response cut');
        assert.equal(lastOutcome().code, c.cutWith);
      }
      await assertNoLeak(c.name);
    });
  }
}

test('a burst of 5xx opens the circuit (503 with Retry-After), a failed probe reopens it, a good one closes it; nothing leaked', async () => {
  const breaker = gw.gw.current.upstreams.get('flaky')!.breaker;
  for (let i = 0; i < 3; i++) assert.equal((await call('flaky', { fault: 'status-503' })).status, 503);
  assert.equal(breaker.state, 'open');
  const open = await call('flaky');
  assert.equal(open.status, 503);
  assert.equal(JSON.parse(open.body).error.code, 'PALISADE_CIRCUIT_OPEN');
  assert.ok(Number(open.headers['retry-after']) >= 1);
  await sleep(450);
  assert.equal((await call('flaky', { fault: 'status-500' })).status, 500, 'the half-open probe goes through and fails');
  assert.equal(breaker.state, 'open');
  assert.equal(JSON.parse((await call('flaky')).body).error.code, 'PALISADE_CIRCUIT_OPEN');
  await sleep(450);
  assert.equal((await call('flaky')).status, 200, 'the next probe succeeds');
  assert.equal(breaker.state, 'closed');
  await assertNoLeak('circuit breaker');
});

test('the same faults again and again hold no more than once', async () => {
  for (let i = 0; i < 5; i++) {
    await call('demo-llm', { fault: 'die-mid-stream', stream: true });
    await call('read', { fault: 'slow-body:1500' });
    await call('demo-llm', { fault: 'reset-before-headers' });
    await call('refused');
  }
  await assertNoLeak('repeated faults');
});

test('a reload of YAML that cannot be read (invalid syntax, an alias bomb) is refused; the old config keeps serving', async () => {
  const good = readFileSync(gw.file, 'utf8');
  try {
    for (const bad of ['models: [ {', `${good}\nx: &x [*x]\n`, 'a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n']) {
      writeFileSync(gw.file, bad);
      const r = await gw.gw.reload();
      assert.equal(r.ok, false);
      assert.equal((await call('demo-llm')).status, 200, 'the old config serves');
    }
  } finally {
    writeFileSync(gw.file, good);
  }
});
