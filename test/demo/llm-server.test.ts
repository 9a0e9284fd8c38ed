import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';
import { DEMO_SENTENCE } from '../../src/demo/llm-fake-model.js';
import { startLlmServer } from '../../src/demo/llm-server.js';

const SCRIPT = 'src/demo/llm-server.ts';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** False when the connection ended before the whole message arrived. */
  complete: boolean;
}

interface Call {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Give up (destroy the request) this many ms after sending; the reply so far is returned. */
  abortAfterMs?: number;
}

/**
 * One HTTP exchange on a fresh connection. Resolves with whatever arrived, even when the
 * server cut the connection mid-body; rejects only when no response head came at all.
 */
function call(base: string, path: string, opts: Call = {}): Promise<Reply & { gotResponse: boolean }> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const req = http.request(`${base}${path}`, {
      method: opts.method ?? (payload === undefined ? 'GET' : 'POST'),
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...opts.headers },
      agent: false,
    });
    let timer: NodeJS.Timeout | undefined;
    if (opts.abortAfterMs !== undefined) {
      timer = setTimeout(() => {
        if (!reply) resolve({ status: 0, headers: {}, text: '', complete: false, gotResponse: false });
        req.destroy();
      }, opts.abortAfterMs);
    }
    let reply: (Reply & { gotResponse: boolean }) | undefined;
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!reply) reject(err);
    });
    req.on('response', (res) => {
      reply = { status: res.statusCode ?? 0, headers: res.headers, text: '', complete: false, gotResponse: true };
      const r = reply;
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        r.text += s;
      });
      res.on('error', () => {}); // "aborted": reported through `complete`
      res.on('close', () => {
        clearTimeout(timer);
        r.complete = res.complete;
        resolve(r);
      });
    });
    req.end(payload);
  });
}

/** The `data:` payloads of an SSE body, checking the framing on the way. */
function sseData(text: string): string[] {
  const events = text.split('\n\n');
  const last = events.pop();
  assert.equal(last, '', 'an SSE body ends with a blank line');
  return events.map((e) => {
    assert.ok(e.startsWith('data: '), `not a data event: ${e.slice(0, 40)}`);
    assert.ok(!e.includes('\n'), 'one line per event');
    return e.slice('data: '.length);
  });
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const user = (content: string) => ({ model: 'demo-llm', messages: [{ role: 'user', content }] });

describe('demo LLM server (spawned process)', () => {
  let srv: SpawnedServer;
  let url: string;
  const post = (path: string, body: unknown, headers?: Record<string, string>) => call(url, path, { body, headers });
  const json = async (path: string, body: unknown, headers?: Record<string, string>): Promise<Obj> => {
    const r = await post(path, body, headers);
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    return JSON.parse(r.text) as Obj;
  };

  before(async () => {
    srv = await spawnServer(SCRIPT, ['--models', 'demo-llm,demo-llm-2']);
    url = srv.url;
  });
  after(() => srv.stop());

  it('lists the configured models', async () => {
    const r = await call(url, '/v1/models');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text) as Obj;
    assert.equal(body.object, 'list');
    assert.deepEqual(body.data.map((m: Obj) => [m.id, m.object, typeof m.created, typeof m.owned_by]), [
      ['demo-llm', 'model', 'number', 'string'],
      ['demo-llm-2', 'model', 'number', 'string'],
    ]);
    const one = await call(url, '/v1/models/demo-llm-2');
    assert.equal(JSON.parse(one.text).id, 'demo-llm-2');
    assert.equal((await call(url, '/v1/models/gpt-4')).status, 404);
  });

  it('answers a chat completion with the OpenAI shape and whitespace-token usage', async () => {
    const body = await json('/v1/chat/completions', {
      model: 'demo-llm',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Hello there,' }, { type: 'text', text: 'friend' }] },
      ],
    });
    assert.match(body.id, /^chatcmpl-/);
    assert.equal(body.object, 'chat.completion');
    assert.equal(typeof body.created, 'number');
    assert.equal(body.model, 'demo-llm');
    assert.equal(body.choices.length, 1);
    const [choice] = body.choices;
    assert.equal(choice.index, 0);
    assert.equal(choice.message.role, 'assistant');
    assert.equal(choice.message.content, `You said: Hello there, friend. ${DEMO_SENTENCE}`);
    assert.equal(choice.logprobs, null);
    assert.equal(choice.finish_reason, 'stop');
    const completion = choice.message.content.split(' ').length;
    assert.deepEqual(body.usage, { prompt_tokens: 6, completion_tokens: completion, total_tokens: 6 + completion });
  });

  it('echoes only the first 40 characters of the last user message', async () => {
    const body = await json('/v1/chat/completions', {
      model: 'demo-llm',
      messages: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'abcdefghij'.repeat(5) }],
    });
    assert.ok(body.choices[0].message.content.startsWith(`You said: ${'abcdefghij'.repeat(4)}. The`));
  });

  it('cuts or repeats the reply to max_tokens / max_completion_tokens with finish_reason length', async () => {
    for (const [key, n] of [['max_tokens', 3], ['max_completion_tokens', 40]] as const) {
      const body = await json('/v1/chat/completions', { ...user('hi'), [key]: n });
      const content: string = body.choices[0].message.content;
      assert.equal(content.split(' ').length, n, content);
      assert.equal(body.choices[0].finish_reason, 'length');
      assert.equal(body.usage.completion_tokens, n);
    }
  });

  it('returns n choices and counts their tokens', async () => {
    const body = await json('/v1/chat/completions', { ...user('hi'), n: 3, max_tokens: 5 });
    assert.deepEqual(body.choices.map((c: Obj) => c.index), [0, 1, 2]);
    assert.equal(new Set(body.choices.map((c: Obj) => c.message.content)).size, 1);
    assert.deepEqual(body.usage, { prompt_tokens: 1, completion_tokens: 15, total_tokens: 16 });
  });

  it('streams a chat completion event by event, usage last, then [DONE]', async () => {
    const plain = await json('/v1/chat/completions', { ...user('stream me please'), n: 2 });
    const r = await post('/v1/chat/completions', { ...user('stream me please'), n: 2, stream: true, stream_options: { include_usage: true } });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/event-stream/);
    const data = sseData(r.text);
    assert.equal(data.pop(), '[DONE]');
    const chunks = data.map((d) => JSON.parse(d) as Obj);
    const usage = chunks.pop()!;
    assert.deepEqual(usage.choices, []);
    assert.deepEqual(usage.usage, plain.usage);
    const content = ['', ''];
    const seen: string[][] = [[], []];
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, usage.id);
      assert.equal(c.model, 'demo-llm');
      assert.equal(c.usage, null, 'every chunk but the last carries usage: null');
      assert.equal(c.choices.length, 1);
      const ch = c.choices[0];
      if (ch.delta.role !== undefined) seen[ch.index].push('role');
      else if (ch.finish_reason !== null) seen[ch.index].push(`finish:${ch.finish_reason}`);
      else {
        seen[ch.index].push('token');
        content[ch.index] += ch.delta.content;
      }
    }
    for (const i of [0, 1]) {
      assert.equal(content[i], plain.choices[i].message.content);
      assert.equal(seen[i][0], 'role');
      assert.equal(seen[i].at(-1), 'finish:stop');
      assert.equal(seen[i].filter((s) => s === 'token').length, plain.usage.completion_tokens / 2);
    }
  });

  it('streams without usage unless stream_options.include_usage', async () => {
    const r = await post('/v1/chat/completions', { ...user('x'), stream: true, max_tokens: 2 });
    const chunks = sseData(r.text).slice(0, -1).map((d) => JSON.parse(d) as Obj);
    assert.equal(chunks.length, 4);
    assert.ok(chunks.every((c) => !('usage' in c) && c.choices.length === 1));
  });

  it('gives chat logprobs with top_logprobs, the same in stream chunks', async () => {
    const req = { ...user('probe'), logprobs: true, top_logprobs: 3, max_tokens: 6 };
    const body = await json('/v1/chat/completions', req);
    const lp: Obj[] = body.choices[0].logprobs.content;
    assert.equal(lp.length, 6);
    assert.equal(lp.map((e) => e.token).join(''), body.choices[0].message.content);
    for (const e of lp) {
      assert.ok(e.logprob < 0);
      assert.deepEqual(e.bytes, [...Buffer.from(e.token)]);
      assert.equal(e.top_logprobs.length, 3);
      assert.deepEqual(e.top_logprobs[0], { token: e.token, logprob: e.logprob, bytes: e.bytes });
      for (const t of e.top_logprobs) assert.deepEqual(Object.keys(t).sort(), ['bytes', 'logprob', 'token']);
      assert.ok(e.top_logprobs[1].logprob < e.top_logprobs[0].logprob);
    }
    const noTop = await json('/v1/chat/completions', { ...user('probe'), logprobs: true, max_tokens: 2 });
    assert.deepEqual(noTop.choices[0].logprobs.content[0].top_logprobs, []);

    const r = await post('/v1/chat/completions', { ...req, stream: true });
    const streamed = sseData(r.text).slice(0, -1).map((d) => JSON.parse(d) as Obj)
      .filter((c) => c.choices[0].delta.content);
    assert.deepEqual(streamed.map((c) => c.choices[0].logprobs.content[0]), lp);

    const bad = await post('/v1/chat/completions', { ...user('x'), top_logprobs: 2 });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).error.param, 'top_logprobs');
  });

  it('answers legacy completions with logprobs {tokens, token_logprobs, top_logprobs, text_offset}', async () => {
    const prompt = 'Tell me a story';
    const body = await json('/v1/completions', { model: 'demo-llm', prompt, max_tokens: 6, logprobs: 2 });
    assert.match(body.id, /^cmpl-/);
    assert.equal(body.object, 'text_completion');
    const [choice] = body.choices;
    assert.equal(choice.text, ` You said: ${prompt}.`);
    assert.equal(choice.finish_reason, 'length');
    const lp = choice.logprobs;
    assert.deepEqual(Object.keys(lp).sort(), ['text_offset', 'token_logprobs', 'tokens', 'top_logprobs']);
    assert.equal(lp.tokens.join(''), choice.text);
    assert.equal(lp.tokens.length, 6);
    let offset = prompt.length;
    lp.tokens.forEach((t: string, i: number) => {
      assert.equal(lp.text_offset[i], offset);
      offset += t.length;
      assert.equal(typeof lp.token_logprobs[i], 'number');
      assert.equal(Object.keys(lp.top_logprobs[i]).length, 2);
      assert.equal(lp.top_logprobs[i][t], lp.token_logprobs[i]);
    });
    assert.deepEqual(body.usage, { prompt_tokens: 4, completion_tokens: 6, total_tokens: 10 });

    assert.equal((await post('/v1/completions', { model: 'demo-llm', prompt, logprobs: true })).status, 400);
  });

  it('echoes the prompt, with its token logprobs, when echo is true', async () => {
    const prompt = 'Tell me  a story';
    const base = await json('/v1/completions', { model: 'demo-llm', prompt, max_tokens: 5, logprobs: 1 });
    const body = await json('/v1/completions', { model: 'demo-llm', prompt, max_tokens: 5, logprobs: 1, echo: true });
    const [choice] = body.choices;
    assert.equal(choice.text, prompt + base.choices[0].text);
    const lp = choice.logprobs;
    assert.equal(lp.tokens.join(''), choice.text);
    assert.deepEqual(lp.tokens.slice(0, 4), ['Tell', ' me', '  a', ' story']);
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.top_logprobs[0], null);
    assert.equal(lp.text_offset[0], 0);
    assert.deepEqual(lp.text_offset.slice(4), base.choices[0].logprobs.text_offset);
    assert.deepEqual(lp.token_logprobs.slice(4), base.choices[0].logprobs.token_logprobs);
    assert.equal(typeof lp.token_logprobs[1], 'number');
    assert.equal(body.usage.completion_tokens, 5);

    const plain = await json('/v1/completions', { model: 'demo-llm', prompt, max_tokens: 2, echo: true });
    assert.ok(plain.choices[0].text.startsWith(prompt));
    assert.equal(plain.choices[0].logprobs, null);
  });

  it('answers one choice per prompt and n, indexed prompt-major', async () => {
    const body = await json('/v1/completions', { model: 'demo-llm', prompt: ['alpha', 'beta gamma'], n: 2, max_tokens: 3 });
    assert.deepEqual(body.choices.map((c: Obj) => [c.index, c.text]), [
      [0, ' You said: alpha.'], [1, ' You said: alpha.'], [2, ' You said: beta'], [3, ' You said: beta'],
    ]);
    assert.deepEqual(body.usage, { prompt_tokens: 3, completion_tokens: 12, total_tokens: 15 });
  });

  it('streams legacy completions, echo and logprobs included', async () => {
    const req = { model: 'demo-llm', prompt: ['alpha', 'beta'], n: 2, logprobs: 1, echo: true };
    const plain = await json('/v1/completions', req);
    const r = await post('/v1/completions', { ...req, stream: true, stream_options: { include_usage: true } });
    const data = sseData(r.text);
    assert.equal(data.pop(), '[DONE]');
    const chunks = data.map((d) => JSON.parse(d) as Obj);
    assert.deepEqual(chunks.pop()!.usage, plain.usage);
    const text = ['', '', '', ''];
    const tokens: string[][] = [[], [], [], []];
    const finish: string[] = [];
    for (const c of chunks) {
      assert.equal(c.object, 'text_completion');
      const ch = c.choices[0];
      text[ch.index] += ch.text;
      if (ch.logprobs) tokens[ch.index].push(...ch.logprobs.tokens);
      if (ch.finish_reason) finish[ch.index] = ch.finish_reason;
    }
    assert.deepEqual(text, plain.choices.map((c: Obj) => c.text));
    assert.deepEqual(tokens, plain.choices.map((c: Obj) => c.logprobs.tokens));
    assert.deepEqual(finish, ['stop', 'stop', 'stop', 'stop']);
  });

  it('embeds deterministically, as floats or base64', async () => {
    const a = await json('/v1/embeddings', { model: 'demo-llm', input: ['the cat', 'a dog'] });
    const b = await json('/v1/embeddings', { model: 'demo-llm', input: 'the cat' });
    assert.equal(a.object, 'list');
    assert.equal(a.model, 'demo-llm');
    assert.deepEqual(a.data.map((d: Obj) => [d.object, d.index, d.embedding.length]), [['embedding', 0, 16], ['embedding', 1, 16]]);
    assert.deepEqual(b.data[0].embedding, a.data[0].embedding);
    assert.notDeepEqual(a.data[1].embedding, a.data[0].embedding);
    assert.deepEqual(a.usage, { prompt_tokens: 4, total_tokens: 4 });
    const norm = Math.hypot(...(a.data[0].embedding as number[]));
    assert.ok(Math.abs(norm - 1) < 1e-5);
    const c = await json('/v1/embeddings', { model: 'demo-llm', input: 'the cat', encoding_format: 'base64' });
    const buf = Buffer.from(c.data[0].embedding, 'base64');
    assert.deepEqual([...new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4)], a.data[0].embedding);
    const d = await json('/v1/embeddings', { model: 'demo-llm', input: 'the cat', dimensions: 4 });
    assert.equal(d.data[0].embedding.length, 4);
  });

  it('answers an unknown model with a 404 and bad JSON with a 400, OpenAI-style', async () => {
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings']) {
      const r = await post(path, { model: 'gpt-9', messages: [{ role: 'user', content: 'x' }], prompt: 'x', input: 'x' });
      assert.equal(r.status, 404, path);
      const err = JSON.parse(r.text).error;
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.type, 'invalid_request_error');
      assert.match(err.message, /gpt-9/);
    }
    const bad = await post('/v1/chat/completions', '{"model": "demo-llm", oops');
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.text).error.type, 'invalid_request_error');
    const missing = await post('/v1/chat/completions', { model: 'demo-llm' });
    assert.equal(missing.status, 400);
    const nowhere = await call(url, '/v1/nowhere');
    assert.equal(nowhere.status, 404);
    assert.ok(JSON.parse(nowhere.text).error.message);
  });

  describe('x-demo-fault', () => {
    const fault = (value: string, body: unknown = user('x'), extra: Call = {}) =>
      call(url, '/v1/chat/completions', { body, headers: { 'x-demo-fault': value }, ...extra });

    it('status-500 and status-503 answer an OpenAI-style JSON error', async () => {
      for (const status of [500, 503]) {
        const r = await fault(`status-${status}`);
        assert.equal(r.status, status);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        const err = JSON.parse(r.text).error;
        assert.equal(err.type, 'server_error');
        assert.equal(typeof err.message, 'string');
      }
    });

    it('slow-headers holds back the response head, then answers normally', async () => {
      const held = await fault('slow-headers:10000', user('x'), { abortAfterMs: 300 });
      assert.equal(held.gotResponse, false);
      const late = await fault('slow-headers:50');
      assert.equal(late.status, 200);
      assert.equal(JSON.parse(late.text).object, 'chat.completion');
    });

    it('slow-body sends the head at once and holds back the body', async () => {
      const held = await fault('slow-body:10000', user('x'), { abortAfterMs: 300 });
      assert.equal(held.gotResponse, true);
      assert.equal(held.status, 200);
      assert.equal(held.text, '');
      assert.equal(held.complete, false);
      const json = await fault('slow-body:30');
      assert.equal(json.complete, true);
      assert.equal(JSON.parse(json.text).object, 'chat.completion');
      const normal = await post('/v1/chat/completions', { ...user('x'), stream: true });
      const slow = await fault('slow-body:20', { ...user('x'), stream: true });
      const strip = (t: string) => sseData(t).map((d) => d.replace(/"id":"[^"]*","object":"[^"]*","created":\d+/, ''));
      assert.deepEqual(strip(slow.text), strip(normal.text));
    });

    it('die-mid-stream sends a few events and then drops the connection', async () => {
      const r = await fault('die-mid-stream', { ...user('a long enough reply'), stream: true });
      assert.equal(r.status, 200);
      assert.equal(r.complete, false);
      const events = r.text.split('\n\n').filter((e) => e !== '');
      assert.ok(events.length >= 1 && events.length <= 3, `${events.length} events`);
      for (const e of events) JSON.parse(e.slice('data: '.length));
      assert.ok(!r.text.includes('[DONE]'));
      const plain = await fault('die-mid-stream');
      assert.equal(plain.complete, false);
      assert.ok(Number(plain.headers['content-length']) > plain.text.length);
    });

    it('reset-before-headers drops the connection without a response', async () => {
      await assert.rejects(fault('reset-before-headers'), (err: NodeJS.ErrnoException) => {
        assert.ok(['ECONNRESET', 'EPIPE'].includes(err.code ?? ''), String(err));
        return true;
      });
    });

    it('huge:BYTES answers a valid JSON completion of about that size, streamed or not', async () => {
      const r = await fault('huge:200000');
      assert.ok(Math.abs(r.text.length - 200_000) < 2_000, `${r.text.length} bytes`);
      const body = JSON.parse(r.text) as Obj;
      assert.equal(body.object, 'chat.completion');
      assert.equal(body.choices[0].message.content.split(' ').length, body.usage.completion_tokens);
      const s = await fault('huge:100000', { ...user('x'), stream: true });
      assert.ok(Math.abs(s.text.length - 100_000) < 2_000, `${s.text.length} bytes`);
      const data = sseData(s.text);
      assert.equal(data.pop(), '[DONE]');
      for (const d of data) JSON.parse(d);
      const models = await call(url, '/v1/models', { headers: { 'x-demo-fault': 'huge:50000' } });
      assert.equal(models.text.length, 50_000);
      assert.equal(JSON.parse(models.text).data[0].id, 'demo-llm');
    });

    it('garbage answers 200 application/json that is not JSON', async () => {
      const r = await fault('garbage');
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^application\/json/);
      assert.throws(() => JSON.parse(r.text));
    });

    it('bad-sse answers an event stream whose data lines are not JSON', async () => {
      const r = await fault('bad-sse', { ...user('x'), stream: true });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/event-stream/);
      const data = sseData(r.text);
      assert.equal(data.pop(), '[DONE]');
      assert.ok(data.length >= 2);
      for (const d of data) assert.throws(() => JSON.parse(d), d);
    });

    it('rejects an unknown fault with a 400', async () => {
      const r = await fault('explode');
      assert.equal(r.status, 400);
      assert.match(JSON.parse(r.text).error.message, /explode/);
    });

    it('x-demo-token-delay-ms paces the stream without changing it', async () => {
      const normal = await post('/v1/chat/completions', { ...user('pace'), stream: true, max_tokens: 4 });
      const paced = await post('/v1/chat/completions', { ...user('pace'), stream: true, max_tokens: 4 }, { 'x-demo-token-delay-ms': '15' });
      const strip = (t: string) => sseData(t).map((d) => d.replace(/"id":"[^"]*","object":"[^"]*","created":\d+/, ''));
      assert.deepEqual(strip(paced.text), strip(normal.text));
      assert.equal((await post('/v1/chat/completions', user('x'), { 'x-demo-token-delay-ms': 'soon' })).status, 400);
    });
  });

  it('counts requests and records the last body and headers in /__stats', async () => {
    assert.equal((await call(url, '/__stats/reset', { method: 'POST' })).status, 200);
    const empty = JSON.parse((await call(url, '/__stats')).text) as Obj;
    assert.equal(empty.requests, 0);
    assert.deepEqual(empty.byPath, {});

    await call(url, '/v1/models');
    const sent = { ...user('remember me'), temperature: 0.5, extra: { nested: [1, 2] } };
    await post('/v1/chat/completions', sent, { 'x-test-tag': 'abc' });
    await post('/v1/chat/completions', sent, { 'x-demo-fault': 'status-500' });
    await post('/v1/embeddings', { model: 'demo-llm', input: 'x' });
    await post('/v1/chat/completions', { ...sent, model: 'nope' }, { 'x-test-tag': 'last' });
    const s = JSON.parse((await call(url, '/__stats')).text) as Obj;
    assert.equal(s.requests, 5);
    assert.deepEqual(s.byPath, { '/v1/models': 1, '/v1/chat/completions': 3, '/v1/embeddings': 1 });
    assert.equal(s.lastPath, '/v1/chat/completions');
    assert.deepEqual(s.lastBody, { ...sent, model: 'nope' });
    assert.equal(s.lastHeaders['x-test-tag'], 'last');

    await post('/v1/chat/completions', 'not json');
    const raw = JSON.parse((await call(url, '/__stats')).text) as Obj;
    assert.equal(raw.lastBody, 'not json');
    await call(url, '/__stats/reset', { method: 'POST' });
    assert.equal(JSON.parse((await call(url, '/__stats')).text).requests, 0);
  });
});

describe('demo LLM server CLI', () => {
  it('exits with code 0 on SIGTERM and on SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const s = await spawnServer(SCRIPT, ['--host', '127.0.0.1', '--token-delay-ms', '1']);
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await call(s.url, '/v1/models')).status, 200);
      const exited = new Promise<number | null>((res) => s.child.once('exit', (code) => res(code)));
      s.child.kill(signal);
      assert.equal(await exited, 0);
      await s.stop();
    }
  });

  it('makes spawnServer reject with the stderr of a script that cannot start', async () => {
    await assert.rejects(spawnServer(SCRIPT, ['--no-such-flag']), /no-such-flag/);
  });
});

describe('startLlmServer (in process)', () => {
  it('serves the given models and exposes stats(), reset() and close()', async () => {
    const llm = await startLlmServer({ models: ['m1'], tokenDelayMs: 1 });
    try {
      const r = await call(llm.url, '/v1/chat/completions', { body: { model: 'm1', messages: [{ role: 'user', content: 'hi' }], stream: true } });
      assert.equal(sseData(r.text).at(-1), '[DONE]');
      assert.equal((await call(llm.url, '/v1/chat/completions', { body: user('hi') })).status, 404);
      const s = llm.stats();
      assert.equal(s.requests, 2);
      assert.deepEqual(s.byPath, { '/v1/chat/completions': 2 });
      assert.deepEqual(s.lastBody, user('hi'));
      llm.reset();
      assert.equal(llm.stats().requests, 0);
      assert.equal(llm.stats().lastBody, undefined);
    } finally {
      await llm.close();
      await llm.close();
    }
  });

  it('close() cuts a response held by a fault instead of waiting for it', async () => {
    const llm = await startLlmServer({});
    const pending = call(llm.url, '/v1/chat/completions', { body: user('x'), headers: { 'x-demo-fault': 'slow-body:60000' } });
    // Wait until the head has arrived, so the server is inside its pause.
    for (let i = 0; i < 200 && llm.stats().requests === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    await llm.close();
    const r = await pending;
    assert.equal(r.complete, false);
  });
});

describe('pauses of many requests at once', () => {
  it('30 paused requests in flight add no listener per pause (no MaxListenersExceededWarning), and close cuts pauses short', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const server = await startLlmServer();
    try {
      const body = JSON.stringify({ model: 'demo-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, stream: true });
      const call = (fault: string) =>
        fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-demo-fault': fault }, body }).then(async (r) => {
          await r.text();
          return r.status;
        });
      const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => call(i % 2 ? 'slow-headers:100' : 'slow-body:20')));
      assert.deepEqual(new Set(statuses), new Set([200]));
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);

      // A pause of 10 minutes does not hold close (the test would time out).
      const pending = call('slow-headers:600000').catch(() => 'closed');
      for (let i = 0; i < 200 && server.stats().requests < 31; i++) await new Promise((r) => setTimeout(r, 5));
      await server.close();
      assert.notEqual(await pending, 200);
    } finally {
      process.off('warning', onWarning);
      await server.close();
    }
  });
});
