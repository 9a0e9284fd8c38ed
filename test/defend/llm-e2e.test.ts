/**
 * LLM output policies end to end: a real gateway in front of the demo LLM server (a
 * separate process), JSON and SSE, refused and clamped requests, and what the upstream
 * received (its /__stats).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let llm: SpawnedServer;
let gw: TestGateway;

const PROMPT = 'héllo wörld ✓ the quick brown fox jumps';

before(async () => {
  llm = await spawnServer('src/demo/llm-server.ts');
  gw = await startGateway(`
upstreams:
  llm: { protocol: openai, url: "${llm.url}" }
defenses:
  policies:
    refuse: { llm: { logprobs: round, decimals: 1, maxTopLogprobs: 2, maxN: 2, onExceed: refuse } }
    clamp: { llm: { logprobs: round, decimals: 1, maxTopLogprobs: 2, maxN: 2, onExceed: clamp } }
    strip: { llm: { logprobs: strip, onExceed: clamp } }
    strip-refuse: { llm: { logprobs: strip } }
    shadow: { mode: shadow, llm: { logprobs: strip, maxN: 1 } }
    off: { mode: off, llm: { logprobs: strip } }
models:
  - { name: llm-refuse, upstream: llm, upstreamModel: demo-llm, defense: refuse }
  - { name: llm-clamp, upstream: llm, upstreamModel: demo-llm, defense: clamp }
  - { name: llm-strip, upstream: llm, upstreamModel: demo-llm, defense: strip }
  - { name: llm-strip-refuse, upstream: llm, upstreamModel: demo-llm, defense: strip-refuse }
  - { name: llm-shadow, upstream: llm, upstreamModel: demo-llm, defense: shadow }
  - { name: llm-off, upstream: llm, upstreamModel: demo-llm, defense: off }
  - { name: llm-open, upstream: llm, upstreamModel: demo-llm }
  - { name: llm-shadow-raw, upstream: llm, upstreamModel: demo-llm, defense: shadow, passRawWhenUndefended: true }
`);
});

after(async () => {
  await gw?.stop();
  await llm?.stop();
});

async function upstreamStats(): Promise<{ requests: number; lastBody?: Record<string, unknown> }> {
  return (await fetch(`${llm.url}/__stats`)).json() as Promise<{ requests: number; lastBody?: Record<string, unknown> }>;
}

const chat = (model: string, extra: object = {}) => ({ model, messages: [{ role: 'user', content: PROMPT }], ...extra });
const completion = (model: string, extra: object = {}) => ({ model, prompt: PROMPT, max_tokens: 6, ...extra });

/** Every log-probability number in a body (chat or completions format). */
function allLogprobs(body: any): number[] {
  const out: number[] = [];
  for (const c of body.choices ?? []) {
    const lp = c.logprobs;
    if (!lp) continue;
    for (const e of [...(lp.content ?? []), ...(lp.refusal ?? [])]) {
      out.push(e.logprob);
      for (const t of e.top_logprobs ?? []) out.push(t.logprob);
    }
    for (const v of lp.token_logprobs ?? []) if (v !== null) out.push(v);
    for (const m of lp.top_logprobs ?? []) if (m) out.push(...(Object.values(m) as number[]));
  }
  return out;
}

const oneDecimal = (x: number) => Math.abs(x * 10 - Math.round(x * 10)) < 1e-9;

async function sse(url: string, body: object, headers: Record<string, string> = {}): Promise<{ status: number; events: string[] }> {
  const res = await fetch(`${url}/v1/${'messages' in body ? 'chat/completions' : 'completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e !== '').map((e) => e.replace(/^data: /, ''));
  return { status: res.status, events };
}

test('chat JSON: log-probabilities are rounded and the alternatives capped', async () => {
  const open = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-open', { logprobs: true, top_logprobs: 2 }));
  assert.ok(allLogprobs(open.json).some((x) => !oneDecimal(x)), 'the undefended answer has full precision');
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-refuse', { logprobs: true, top_logprobs: 2 }));
  assert.equal(r.status, 200);
  const lps = allLogprobs(r.json);
  assert.ok(lps.length > 4);
  assert.ok(lps.every(oneDecimal), JSON.stringify(lps));
  assert.equal(r.json.choices[0].message.content, open.json.choices[0].message.content);
  for (const e of r.json.choices[0].logprobs.content) assert.equal(e.top_logprobs.length, 2);
});

test('completions JSON: token_logprobs and top_logprobs maps are rounded', async () => {
  const r = await postJson(`${gw.url}/v1/completions`, completion('llm-refuse', { logprobs: 2 }));
  assert.equal(r.status, 200);
  const lp = r.json.choices[0].logprobs;
  assert.ok(lp.token_logprobs.length > 2);
  assert.ok(allLogprobs(r.json).every(oneDecimal));
  for (const m of lp.top_logprobs) assert.ok(Object.keys(m).length <= 2);
});

test('refused: over-cap top_logprobs, echo with logprobs, n over the cap; none reaches the upstream', async () => {
  const cases: [string, object][] = [
    ['/v1/chat/completions', chat('llm-refuse', { logprobs: true, top_logprobs: 5 })],
    ['/v1/completions', completion('llm-refuse', { logprobs: 3 })],
    ['/v1/completions', completion('llm-refuse', { logprobs: 1, echo: true })],
    ['/v1/chat/completions', chat('llm-refuse', { n: 3 })],
    ['/v1/completions', completion('llm-refuse', { n: 3, stream: true })],
    ['/v1/chat/completions', chat('llm-strip-refuse', { logprobs: true })],
  ];
  const before = (await upstreamStats()).requests;
  for (const [path, body] of cases) {
    const r = await postJson(`${gw.url}${path}`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.json.error.code, 'PALISADE_OUTPUT_POLICY');
    assert.match(r.json.error.message, /output policy/);
  }
  assert.equal((await upstreamStats()).requests, before);
  // Within the caps, the same model serves.
  assert.equal((await postJson(`${gw.url}/v1/completions`, completion('llm-refuse', { logprobs: 2, n: 2 }))).status, 200);
  assert.equal((await upstreamStats()).requests, before + 1);
});

test('clamped: the upstream receives the request within the policy, and the answer fits it', async () => {
  let r = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-clamp', { logprobs: true, top_logprobs: 7, n: 5 }));
  assert.equal(r.status, 200);
  let seen = (await upstreamStats()).lastBody!;
  assert.equal(seen.top_logprobs, 2);
  assert.equal(seen.n, 2);
  assert.equal(r.json.choices.length, 2);
  for (const e of r.json.choices[0].logprobs.content) assert.equal(e.top_logprobs.length, 2);

  r = await postJson(`${gw.url}/v1/completions`, completion('llm-clamp', { logprobs: 5, echo: true }));
  assert.equal(r.status, 200);
  seen = (await upstreamStats()).lastBody!;
  assert.equal(seen.logprobs, 2);
  assert.equal(seen.echo, false);
  assert.ok(!r.json.choices[0].text.startsWith(PROMPT), 'no prompt echoed, so no prompt log-probabilities');
});

test('strip: logprobs are taken out of the request and the answer', async () => {
  for (const [path, body] of [
    ['/v1/chat/completions', chat('llm-strip', { logprobs: true, top_logprobs: 3 })],
    ['/v1/completions', completion('llm-strip', { logprobs: 1 })],
  ] as const) {
    const r = await postJson(`${gw.url}${path}`, body);
    assert.equal(r.status, 200);
    const seen = (await upstreamStats()).lastBody!;
    assert.equal(seen.logprobs, undefined);
    assert.equal(seen.top_logprobs, undefined);
    assert.equal(r.json.choices[0].logprobs, null);
  }
});

test('shadow and off change nothing', async () => {
  for (const model of ['llm-shadow', 'llm-off']) {
    const r = await postJson(`${gw.url}/v1/chat/completions`, chat(model, { logprobs: true, top_logprobs: 3, n: 2 }));
    assert.equal(r.status, 200);
    assert.equal(r.json.choices.length, 2);
    assert.ok(allLogprobs(r.json).some((x) => !oneDecimal(x)));
  }
});

test('SSE chat and completions: every event rewritten, events and text preserved, [DONE] passes', async () => {
  for (const body of [chat('llm-refuse', { logprobs: true, top_logprobs: 2, n: 2 }), completion('llm-refuse', { logprobs: 2 })]) {
    const open = await sse(gw.url, { ...body, model: 'llm-open' });
    const r = await sse(gw.url, body);
    assert.equal(r.status, 200);
    assert.equal(r.events.length, open.events.length);
    assert.equal(r.events.at(-1), '[DONE]');
    let withLogprobs = 0;
    for (let i = 0; i < r.events.length - 1; i++) {
      const ev = JSON.parse(r.events[i]);
      const raw = JSON.parse(open.events[i]);
      const lps = allLogprobs(ev);
      if (lps.length > 0) withLogprobs++;
      assert.ok(lps.every(oneDecimal), r.events[i]);
      assert.deepEqual(ev.choices.map((c: any) => c.delta?.content ?? c.text), raw.choices.map((c: any) => c.delta?.content ?? c.text));
    }
    assert.ok(withLogprobs > 3);
  }
});

test('SSE strip: logprobs are null in every event', async () => {
  const r = await sse(gw.url, chat('llm-strip', { logprobs: true }));
  assert.equal(r.status, 200);
  for (const e of r.events.slice(0, -1)) for (const c of JSON.parse(e).choices) assert.equal(c.logprobs, null);
});

test('an unreadable upstream answer is a 502 under a defense, not passed through', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-refuse', { logprobs: true }), { 'x-demo-fault': 'garbage' });
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_BAD_RESPONSE');
  // A bad SSE event ends the stream with the error event; nothing of it passes. Here the
  // first event is bad, so nothing was sent yet: the answer is a clean 502 instead.
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-fault': 'bad-sse' },
    body: JSON.stringify({ ...chat('llm-refuse'), stream: true }),
  });
  const text = await res.text();
  assert.equal(res.status, 502);
  assert.match(text, /"code":"PALISADE_UPSTREAM_BAD_RESPONSE"/);
  assert.doesNotMatch(text, /this is not JSON/);
});

test('passRawWhenUndefended: a model without an enforced defense may pass an unreadable answer as it came', async () => {
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-shadow-raw'), { 'x-demo-fault': 'garbage' });
  assert.equal(r.status, 200);
  assert.match(r.text, /this is not JSON/);
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-demo-fault': 'bad-sse' },
    body: JSON.stringify({ ...chat('llm-shadow-raw'), stream: true }),
  });
  const text = await res.text();
  assert.match(text, /this is not JSON/);
  assert.match(text, /\[DONE\]/);
});

test('a response no stage changes reaches the client as the upstream wrote it; one with logprobs is rewritten', async () => {
  const pretty = { 'x-demo-fault': 'pretty' };
  const direct = await postJson(`${llm.url}/v1/chat/completions`, chat('demo-llm'), pretty);
  assert.match(direct.text, /\n {2}"choices": \[/, 'the fixture indents its JSON');
  // Without logprobs there is nothing to round: the bytes pass as they are (no re-serialization).
  const plain = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-clamp'), pretty);
  assert.equal(plain.status, 200);
  assert.match(plain.text, /\n {2}"choices": \[/);
  assert.equal(plain.json.choices[0].message.content, direct.json.choices[0].message.content);
  assert.equal(plain.headers.get('content-length'), String(Buffer.byteLength(plain.text)));
  // With logprobs the defense rewrites them: serialized again, rounded.
  const lp = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-clamp', { logprobs: true, top_logprobs: 2 }), pretty);
  assert.equal(lp.status, 200);
  assert.doesNotMatch(lp.text, /\n/);
  const nums = allLogprobs(lp.json);
  assert.ok(nums.length > 0 && nums.every((x) => Math.round(x * 10) / 10 === x), String(nums));
});

test('duplicate keys from the upstream: the client gets the one value the gateway inspected, never the raw bytes', async () => {
  const dup = { 'x-demo-fault': 'dup-logprobs' };
  const direct = await fetch(`${llm.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...dup }, body: JSON.stringify(chat('demo-llm', { logprobs: true, top_logprobs: 2 })) });
  const raw = await direct.text();
  assert.match(raw, /"logprobs":\{"content":\[.*"logprobs":null/, 'the fixture writes the real logprobs first, then null');
  // JSON.parse keeps the last key (null): the gateway sees no logprobs, so it has nothing
  // to round; a client parser that keeps the first key would see the raw ones if the
  // bytes went through as they are.
  const r = await postJson(`${gw.url}/v1/chat/completions`, chat('llm-clamp', { logprobs: true, top_logprobs: 2 }), dup);
  assert.equal(r.status, 200);
  assert.equal(r.text.match(/"logprobs"/g)?.length, r.json.choices.length, r.text);
  assert.doesNotMatch(r.text, /"logprob":/);
  assert.equal(r.json.choices[0].logprobs, null);
});

test('stream events no stage changes pass as the upstream wrote them; duplicate keys are written once', async () => {
  const pretty = { 'x-demo-fault': 'pretty' };
  const plain = await sse(gw.url, chat('llm-clamp'), pretty);
  assert.equal(plain.status, 200);
  const data = plain.events.filter((e) => e !== '[DONE]');
  assert.ok(data.length > 2 && data.every((e) => e.startsWith('{ "id": ')), data[0]);
  const lp = await sse(gw.url, chat('llm-clamp', { logprobs: true, top_logprobs: 2 }), pretty);
  // Events that carry logprobs are rewritten (compact, rounded); the others may pass as they came.
  const withLogprobs = lp.events.filter((e) => e.includes('"logprob"'));
  assert.ok(withLogprobs.length > 2 && withLogprobs.every((e) => e.startsWith('{"id":')), 'events with logprobs are rewritten');
  assert.ok(withLogprobs.every((e) => allLogprobs(JSON.parse(e)).every(oneDecimal)));
  const dup = await sse(gw.url, chat('llm-clamp', { logprobs: true, top_logprobs: 2 }), { 'x-demo-fault': 'dup-logprobs' });
  assert.equal(dup.status, 200);
  for (const e of dup.events.filter((x) => x !== '[DONE]')) {
    const v = JSON.parse(e);
    assert.equal(e.match(/"logprobs"/g)?.length ?? 0, (v.choices ?? []).length, e);
    assert.doesNotMatch(e, /"logprob":/);
  }
});
