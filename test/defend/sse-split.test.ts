/**
 * The SSE path under an output defense, over real TCP: the demo LLM server's stream
 * arrives at the gateway cut at awkward byte positions (every byte, inside `\r\n`, inside
 * UTF-8 sequences, mid-number) by a relaying upstream process, and must come out event by
 * event, rewritten, exactly as when it arrives whole. A client that stops reading must
 * stop the upstream too (backpressure), not grow the gateway's memory.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let splitter: SpawnedServer;
let gw: TestGateway;

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  splitter = await spawnServer('test/helpers/sse-splitter.ts', ['--relay', llm.url]);
  gw = await startGateway(`
upstreams:
  split: { protocol: openai, url: "${splitter.url}", timeouts: { body: 20s } }
defenses:
  policies:
    round: { llm: { logprobs: round, decimals: 2, maxTopLogprobs: 1 } }
models:
  - { name: chat, upstream: split, upstreamModel: demo-llm, defense: round }
`);
});

after(async () => {
  await gw?.stop();
  await splitter?.stop();
  await llm?.stop();
});

const BODY = {
  model: 'chat',
  stream: true,
  logprobs: true,
  top_logprobs: 1,
  max_tokens: 12,
  messages: [{ role: 'user', content: 'naïve café — ✓ 日本語 the end' }],
};

/** The stream's events as the client got them, with the per-request fields blanked. */
async function events(split: string, eol: string): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-split': split, 'x-eol': eol },
    body: JSON.stringify(BODY),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await res.text();
  assert.ok(text.endsWith('\n\n'));
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((e) => e.replace(/"id":"[^"]*"/, '"id":""').replace(/"created":\d+/, '"created":0'));
}

test('a stream cut inside UTF-8, CRLF, `data:` and numbers, or at every byte, in LF, CRLF and CR, comes out the same, rewritten', async () => {
  const whole = await events('1000000', 'lf');
  assert.equal(whole.at(-1), 'data: [DONE]');
  const parsed = whole.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
  const tokens = parsed.flatMap((e) => e.choices[0].logprobs?.content ?? []);
  assert.ok(tokens.length >= 10);
  assert.ok(tokens.some((t: any) => /[^\x00-\x7f]/.test(t.token)), 'multi-byte tokens are in the stream');
  for (const t of tokens) {
    assert.equal(t.logprob, Math.round(t.logprob * 100) / 100);
    assert.equal(t.top_logprobs.length, 1);
  }
  for (const [split, eol] of [
    ['awkward', 'lf'],
    ['awkward', 'crlf'],
    ['awkward', 'cr'],
    ['1', 'crlf'],
    ['2,3,5,7,11,13', 'lf'],
  ]) {
    assert.deepEqual(await events(split, eol), whole, `split ${split} ${eol}`);
  }
});

test('backpressure: a client that stops reading stops the upstream; closing it ends the upstream stream', async () => {
  const total = 96 * 1024 * 1024;
  const req = http.request(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-bulk': String(total) },
  });
  req.end(JSON.stringify({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'x' }] }));
  const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
  assert.equal(res.statusCode, 200);
  res.pause();
  // Wait until the upstream has stopped writing (its progress no longer moves).
  let last = -1;
  let still = 0;
  type Progress = { written: number; total: number; closedEarly: boolean; done: boolean };
  const progress = async () => (await (await fetch(`${splitter.url}/__progress`)).json()) as Progress;
  let p: Progress = { written: 0, total: 0, closedEarly: false, done: false };
  while (still < 5) {
    await sleep(100);
    p = await progress();
    still = p.written === last ? still + 1 : 0;
    last = p.written;
  }
  // Socket buffers on two loopback hops hold a few MB; the rest must wait upstream.
  assert.ok(p.written < total / 2, `upstream wrote ${p.written} of ${total} bytes to a client that reads nothing`);
  assert.equal(p.done, false);
  res.destroy();
  for (let i = 0; i < 100 && !p.closedEarly; i++) {
    await sleep(50);
    p = await progress();
  }
  assert.equal(p.closedEarly, true, 'the gateway closed the upstream stream when the client left');
});
