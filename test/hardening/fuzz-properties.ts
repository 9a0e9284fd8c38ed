/**
 * Property-based fuzzing (fast-check) of the code that reads untrusted bytes: protocol
 * adapters (requests, responses, stream events), the SSE parser and relay, JSON body
 * parsing, the route table and raw-path check, upstream header construction, and the
 * config loader. Each property states what must hold for every input: nothing but a
 * registered GatewayError escapes, and the output keeps its invariants.
 *
 * Shared by test/hardening/fuzz.test.ts (a small budget, in npm test) and
 * scripts/fuzz.ts (`npm run fuzz`, a large budget).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadConfigText } from '../../src/config/load.js';
import { argmax, defendRow } from '../../src/defend/classifier.js';
import { classifierPolicySchema, llmPolicySchema } from '../../src/defend/config.js';
import { defendLogprobs } from '../../src/defend/llm.js';
import { normalStream } from '../../src/defend/noise.js';
import { HashedNgramsFeaturizer } from '../../src/detect/featurizers/hashed-ngrams.js';
import { TensorRowsFeaturizer, TensorShapeError } from '../../src/detect/featurizers/tensor-rows.js';
import { normalize } from '../../src/detect/featurizers/normalize.js';
import { ERRORS, GatewayError } from '../../src/pipeline/errors.js';
import type { InferenceRequest, RouteMatch } from '../../src/pipeline/types.js';
import { ADAPTERS } from '../../src/protocols/index.js';
import { matchRoute, safeRawSuffix, upstreamPathFor } from '../../src/protocols/routes.js';
import { SseParseError, SseParser, SseRelay, formatSse, type SseEvent } from '../../src/protocols/sse.js';
import { upstreamRequestHeaders } from '../../src/proxy/headers.js';
import { jsonDepthExceeds, parseJsonBody } from '../../src/server/body.js';

/** A named property; `run(numRuns, seed)` throws with a counterexample when it fails. */
export interface FuzzProperty {
  name: string;
  run(numRuns: number, seed?: number): void;
}

/** Nothing but a registered GatewayError may escape code that reads untrusted input. */
function onlyRegistered(err: unknown): void {
  if (err instanceof GatewayError && Object.hasOwn(ERRORS, err.code)) return;
  throw err;
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    onlyRegistered(err);
    return undefined;
  }
}

function prop<Ts extends [unknown, ...unknown[]]>(name: string, arbs: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, check: (...args: Ts) => void): FuzzProperty {
  return {
    name,
    run(numRuns, seed) {
      fc.assert(fc.property(...arbs, check), { numRuns, seed, endOnFailure: true });
    },
  };
}

// -- Generators -------------------------------------------------------------------

/** Strings that touch the edges: empty, unicode, lone surrogates, control and path bytes. */
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', '__proto__', 'constructor', 'prototype', '\ud800', '\u0000', 'user', 'system', 'text', 'BYTES', 'FP32'),
);
/** Any JSON value, with keys that matter to the adapters mixed in. */
const KEYS = ['model', 'messages', 'role', 'content', 'type', 'text', 'prompt', 'input', 'inputs', 'outputs', 'name', 'shape', 'datatype', 'data', 'instances', 'predictions', 'choices', 'usage', 'stream', 'n', 'logprobs', 'top_logprobs', 'max_tokens', 'echo', 'tool_calls', 'function', 'arguments', 'model_name', 'model_spec', 'suffix'];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 6 }));
const json: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -5, max: 5 }),
    fc.double(),
    text,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;

const chatMessage = fc.record(
  {
    role: fc.oneof(fc.constantFrom('user', 'system', 'assistant', 'tool'), json),
    content: fc.oneof(text, fc.array(fc.record({ type: fc.oneof(fc.constant('text'), json), text: fc.oneof(text, json) }, { requiredKeys: [] }), { maxLength: 3 }), json),
    tool_calls: fc.array(fc.record({ function: fc.record({ arguments: fc.oneof(text, json) }, { requiredKeys: [] }) }, { requiredKeys: [] }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const openaiBody = fc.record(
  {
    model: fc.oneof(fc.constant('m'), json),
    messages: fc.oneof(fc.array(chatMessage, { maxLength: 3 }), json),
    prompt: fc.oneof(text, fc.array(text, { maxLength: 3 }), json),
    input: fc.oneof(text, fc.array(text, { maxLength: 3 }), json),
    suffix: fc.oneof(text, json),
    stream: fc.oneof(fc.boolean(), json),
    n: fc.oneof(fc.integer({ min: -1, max: 5 }), json),
    logprobs: fc.oneof(fc.boolean(), fc.integer({ min: -1, max: 30 }), json),
    top_logprobs: fc.oneof(fc.integer({ min: -1, max: 30 }), json),
    max_tokens: fc.oneof(fc.integer({ min: -1, max: 100 }), json),
    echo: fc.oneof(fc.boolean(), json),
  },
  { requiredKeys: [] },
);
/** A nested numeric array of a given shape, sometimes ragged or poisoned. */
const tensorData = fc.oneof(
  fc.array(fc.oneof(fc.double(), fc.integer(), fc.boolean()), { maxLength: 12 }),
  fc.array(fc.array(fc.double({ noNaN: true }), { minLength: 2, maxLength: 2 }), { maxLength: 4 }),
  json,
);
const kserveInput = fc.record(
  {
    name: fc.oneof(fc.constant('x'), json),
    shape: fc.oneof(fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }), json),
    datatype: fc.oneof(fc.constantFrom('FP32', 'INT64', 'BOOL', 'BYTES', 'FP16', 'STRING'), json),
    data: tensorData,
  },
  { requiredKeys: [] },
);
const kserveBody = fc.record(
  { inputs: fc.oneof(fc.array(kserveInput, { maxLength: 3 }), json), model_name: fc.oneof(fc.constant('m'), json), outputs: fc.oneof(fc.array(kserveInput, { maxLength: 3 }), json) },
  { requiredKeys: [] },
);
const tfBody = fc.record(
  {
    instances: fc.oneof(tensorData, fc.array(fc.dictionary(fc.constantFrom('a', 'b'), tensorData, { maxKeys: 2 }), { maxLength: 3 })),
    inputs: fc.oneof(tensorData, fc.dictionary(fc.constantFrom('a', 'b'), tensorData, { maxKeys: 2 })),
    predictions: fc.oneof(tensorData, fc.dictionary(fc.constantFrom('a', 'b'), tensorData, { maxKeys: 2 })),
    outputs: tensorData,
    model_spec: fc.oneof(fc.record({ name: fc.oneof(fc.constant('m'), json) }), json),
  },
  { requiredKeys: [] },
);

const OPERATIONS: Record<string, string[]> = {
  openai: ['chat', 'completions', 'embeddings'],
  'kserve-v2': ['infer', 'metadata', 'ready'],
  tfserving: ['predict', 'metadata', 'model-info'],
  raw: ['raw'],
};
const adapterCase = fc.oneof(
  fc.record({ protocol: fc.constant('openai' as const), operation: fc.constantFrom(...OPERATIONS.openai), body: fc.oneof(openaiBody, json) }),
  fc.record({ protocol: fc.constant('kserve-v2' as const), operation: fc.constantFrom(...OPERATIONS['kserve-v2']), body: fc.oneof(kserveBody, json) }),
  fc.record({ protocol: fc.constant('tfserving' as const), operation: fc.constantFrom(...OPERATIONS.tfserving), body: fc.oneof(tfBody, json) }),
  fc.record({ protocol: fc.constant('raw' as const), operation: fc.constant('raw'), body: json }),
);

function route(protocol: string, operation: string): RouteMatch {
  return { protocol: protocol as RouteMatch['protocol'], operation, modelFromPath: protocol === 'openai' ? undefined : 'm', upstreamPath: '/', query: '' };
}

function checkRequest(req: InferenceRequest): void {
  for (const t of req.texts) assert.equal(typeof t.text, 'string');
  for (const t of req.tensors) {
    assert.ok(Array.isArray(t.shape));
    for (let i = 0; i < t.data.length; i++) assert.ok(Number.isFinite(t.data[i]), 'tensor data is finite: detectors see what is forwarded');
  }
  if (req.protocol === 'kserve-v2') {
    for (const t of req.tensors) assert.equal(t.shape.reduce((a, b) => a * b, 1), t.data.length, 'shape matches data');
  }
  // The forwarded body is the re-serialized parsed body: it must serialize.
  if (req.body !== undefined) JSON.stringify(req.body);
  if (req.protocol === 'openai') assert.equal((req.body as { model: unknown }).model, 'up', 'the upstream model name is written');
}

/** Flattens nested arrays of numbers/booleans (booleans as 1/0; -0 as 0, which JSON cannot tell apart). */
function flat(v: unknown, out: number[] = []): number[] {
  if (Array.isArray(v)) for (const x of v) flat(x, out);
  else out.push(typeof v === 'boolean' ? (v ? 1 : 0) : (v as number) + 0);
  return out;
}

/** The SSE spec's reading, line by line, of a whole stream (a last line without its end is dropped). */
function referenceSse(stream: string): SseEvent[] {
  const lines = stream.split(/\r\n|\r|\n/);
  lines.pop();
  const out: SseEvent[] = [];
  let block: string[] = [];
  const flush = () => {
    if (block.length === 0) return;
    const ev: SseEvent = {};
    const data: string[] = [];
    for (const line of block) {
      if (line[0] === ':') {
        (ev.comments ??= []).push(line.slice(1));
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') ev.event = value;
      else if (field === 'id') ev.id = value;
      else if (field === 'retry') ev.retry = value;
    }
    if (data.length) ev.data = data.join('\n');
    out.push(ev);
    block = [];
  };
  for (const line of lines) {
    if (line === '') flush();
    else block.push(line);
  }
  return out;
}

// -- Properties ------------------------------------------------------------------

export const properties: FuzzProperty[] = [
  prop('adapters: parseRequest on any body returns a sound InferenceRequest or a registered error', [adapterCase], (c) => {
    const body = structuredClone(c.body);
    const req = attempt(() => ADAPTERS[c.protocol].parseRequest({ route: route(c.protocol, c.operation), model: 'm', upstreamModel: 'up', body }));
    if (req) checkRequest(req);
  }),

  prop('adapters: parseResponse/serializeResponse on any body and status never throw anything else, and serialize to JSON', [adapterCase, fc.constantFrom(200, 201, 400, 404, 500, 503)], (c, status) => {
    const req: InferenceRequest = { protocol: c.protocol, model: 'm', operation: c.operation, texts: [], tensors: [], params: { stream: false }, body: {} };
    const adapter = ADAPTERS[c.protocol];
    const body = structuredClone(c.body);
    const res = attempt(() => adapter.parseResponse(body, req, status));
    if (!res) return;
    for (const t of res.tensors) for (let i = 0; i < t.data.length; i++) assert.ok(Number.isFinite(t.data[i]));
    const out = attempt(() => adapter.serializeResponse(res));
    if (out !== undefined) JSON.parse(out);
  }),

  prop('adapters: an untouched response serializes to the same tensors it came with', [fc.oneof(kserveBody, tfBody)], (b) => {
    for (const protocol of ['kserve-v2', 'tfserving'] as const) {
      const operation = protocol === 'kserve-v2' ? 'infer' : 'predict';
      const req: InferenceRequest = { protocol, model: 'm', operation, texts: [], tensors: [], params: { stream: false }, body: {} };
      const body = structuredClone(b) as Record<string, unknown>;
      const before = structuredClone(b) as Record<string, unknown>;
      const res = attempt(() => ADAPTERS[protocol].parseResponse(body, req, 200));
      if (!res) continue;
      const out = attempt(() => ADAPTERS[protocol].serializeResponse(res));
      if (out === undefined) continue;
      const after = JSON.parse(out) as Record<string, unknown>;
      for (const t of res.tensors) {
        const dot = t.name.indexOf('.');
        const [k, name] = protocol === 'tfserving' ? (dot < 0 ? [t.name, undefined] : [t.name.slice(0, dot), t.name.slice(dot + 1)]) : ['outputs', t.name];
        const pick = (o: Record<string, unknown>) => {
          const v = o[k];
          if (protocol === 'kserve-v2') return (v as { name: string; data: unknown }[]).find((x) => x.name === name)?.data;
          return name === undefined ? v : (v as Record<string, unknown>)[name];
        };
        assert.deepEqual(flat(pick(after)), flat(pick(before)), `${protocol} ${t.name} values unchanged`);
      }
    }
  }),

  prop('adapters: parseEvent on any data returns or throws a registered error', [adapterCase], (c) => {
    const req: InferenceRequest = { protocol: c.protocol, model: 'm', operation: c.operation, texts: [], tensors: [], params: { stream: true }, body: {} };
    const res = attempt(() => ADAPTERS[c.protocol].parseEvent(structuredClone(c.body), req));
    if (res) attempt(() => ADAPTERS[c.protocol].serializeResponse(res));
  }),

  prop('SSE: events formatted, then split anywhere, parse back to the same events', [
    fc.array(
      fc.record(
        { data: fc.string({ maxLength: 30 }), event: fc.stringMatching(/^[a-z]{1,6}$/), id: fc.stringMatching(/^[0-9a-z]{0,4}$/) },
        { requiredKeys: ['data'] },
      ),
      { maxLength: 6 },
    ),
    fc.array(fc.nat(), { maxLength: 6 }),
    fc.constantFrom('\n', '\r\n'),
  ], (events, cuts, eol) => {
    const clean = events.map((e) => ({ ...e, data: e.data.replace(/\r\n?/g, '\n') })) as SseEvent[];
    const stream = Buffer.from(clean.map((e) => formatSse(e).replace(/\n/g, eol)).join(''));
    const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
    const p = new SseParser();
    const got: SseEvent[] = [];
    let last = 0;
    for (const at of [...points, stream.length]) {
      got.push(...p.push(stream.subarray(last, at)));
      last = at;
    }
    assert.deepEqual(got, clean.map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined))));
  }),

  prop('SSE: any bytes, any chunking: the parser yields the same events or a size error, never anything else', [fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 5 })], (bytes, cuts) => {
    const buf = Buffer.from(bytes);
    const parse = (parts: Buffer[]) => {
      const p = new SseParser(64);
      const out: SseEvent[] = [];
      try {
        for (const part of parts) out.push(...p.push(part));
      } catch (err) {
        if (err instanceof SseParseError) return 'too-large';
        throw err;
      }
      return out;
    };
    const whole = parse([buf]);
    const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    const parts: Buffer[] = [];
    let last = 0;
    for (const at of [...points, buf.length]) {
      parts.push(buf.subarray(last, at));
      last = at;
    }
    const split = parse(parts);
    // A split can only reach the size bound earlier (a chunk may end mid-boundary), never parse differently.
    if (whole !== 'too-large' && split !== 'too-large') assert.deepEqual(split, whole);
  }),

  prop('SSE: the parser agrees with a line-by-line reading of the spec, whatever the mix of CR, LF and CRLF', [
    fc.array(fc.constantFrom('data:', 'data: ', 'event:', 'id:', 'retry:', ':', 'x', '{}', ' ', '\r', '\n', '\r\n', 'é'), { maxLength: 30 }).map((a) => a.join('')),
  ], (stream) => {
    const p = new SseParser();
    assert.deepEqual(p.push(stream), referenceSse(stream), JSON.stringify(stream));
  }),

  prop('SSE relay: the bytes go through unchanged, every release ends an event, and nothing is held past the bound', [fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 })], (bytes, cuts) => {
    const ascii = Buffer.from(bytes.map((b) => [10, 13, 58, 97, 32][b % 5]));
    const relay = new SseRelay(1 << 20);
    const points = [...new Set(cuts.map((c) => c % (ascii.length + 1)))].sort((a, b) => a - b);
    const out: Buffer[] = [];
    let last = 0;
    for (const at of [...points, ascii.length]) {
      const r = relay.push(ascii.subarray(last, at));
      if (r.length) {
        const s = Buffer.concat([...out, r]).toString('latin1');
        assert.ok(/(\r\n|\r|\n)(\r\n|\r|\n)$/.test(s) || /(\r|\n)\r?\n?$/.test(s), 'a release ends at a blank line');
        // Everything released parses to events with nothing left over.
        const p = new SseParser();
        p.push(s);
        assert.match(p.end(), /^[\r\n]*$/, 'nothing but line ends after the last event');
      }
      out.push(r);
      last = at;
    }
    out.push(relay.end());
    assert.deepEqual(Buffer.concat(out), ascii);
  }),

  prop('JSON bodies: any bytes parse to a value or a BAD_REQUEST; a parsed value has no prototype key and respects the depth bound', [fc.oneof(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)), fc.json({ maxDepth: 6 }).map((s) => Buffer.from(s)), fc.json().map((s) => Buffer.from(s.replace(/"[^"]*"/, '"__proto__"'))))], (buf) => {
    let v: unknown;
    try {
      v = parseJsonBody(buf, 4);
    } catch (err) {
      onlyRegistered(err);
      assert.equal((err as GatewayError).code, 'PALISADE_BAD_REQUEST');
      return;
    }
    const depth = (x: unknown): number => (x && typeof x === 'object' ? 1 + Math.max(0, ...Object.values(x).map(depth)) : 0);
    assert.ok(depth(v) <= 4);
    const walk = (x: unknown): void => {
      if (x && typeof x === 'object') {
        assert.ok(!Object.hasOwn(x, '__proto__'), 'no __proto__ key');
        Object.values(x).forEach(walk);
      }
    };
    walk(v);
  }),

  prop('JSON depth: the one-pass scan agrees with the parsed depth', [fc.json({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 })], (s, max) => {
    const depth = (x: unknown): number => (x && typeof x === 'object' ? 1 + Math.max(0, ...Object.values(x).map(depth)) : 0);
    assert.equal(jsonDepthExceeds(s, max), depth(JSON.parse(s)) > max);
  }),

  prop('routes: any path matches a route with a plain model name, or none; built upstream paths have no dot segment', [fc.oneof(
    fc.array(fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '\\', ';', ':', 'v1', 'v2', 'models', 'm', 'infer', 'predict', ':predict', 'versions', '1', 'chat', 'completions', 'raw', 'M', '%00', '%', '//'), { maxLength: 10 }).map((a) => a.join('')),
    fc.string({ maxLength: 40 }),
  ), fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'PROPFIND')], (path, method) => {
    const m = matchRoute(method, path);
    if ('error' in m) return;
    const name = m.match.modelFromPath;
    if (name !== undefined) {
      assert.match(name, /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
      assert.ok(name !== '.' && name !== '..');
    }
    if (m.match.version !== undefined) assert.match(m.match.version, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    const protocol = m.match.protocol === 'openai-or-tfserving' ? 'tfserving' : m.match.protocol;
    if (protocol === 'raw' || m.match.operation === 'list-models') return;
    const up = upstreamPathFor(protocol, m.match.operation, name ?? 'x', m.match.version);
    assert.ok(!/(^|\/)\.\.?(\/|$)/.test(decodeURIComponent(up)), up);
  }),

  prop('raw suffixes: a suffix deemed safe stays inside its prefix under one decoding or two', [fc.oneof(
    fc.array(fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2f', '%5c', '%25', '%252e', '%c0%ae', '%e0%80%ae', '\\', ';', 'a', 'b', '%', '%41', '#', '?'), { maxLength: 10 }).map((a) => a.join('')),
    fc.string({ maxLength: 30 }),
  )], (suffix) => {
    const s = safeRawSuffix(suffix);
    if (s === undefined) return;
    for (const form of [s, decodeURIComponent(s)]) {
      let d: string;
      try {
        d = decodeURIComponent(form);
      } catch {
        continue; // a second decoding that fails is no path at all
      }
      assert.ok(!/(^|\/)\.\.?(\/|$)/.test(d), `dot segment in ${JSON.stringify(d)} from ${JSON.stringify(suffix)}`);
      assert.ok(!d.includes('\\') && !d.includes('//') && !/[\x00-\x1f]/.test(d), JSON.stringify(d));
    }
  }),

  prop('upstream headers: no hop-by-hop, credential or gateway header crosses; from untrusted peers no client claim either', [
    fc.dictionary(
      fc.oneof(fc.constantFrom('connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'host', 'content-length', 'authorization', 'cookie', 'x-api-key', 'x-palisade-principal', 'x-forwarded-for', 'x-forwarded-user', 'forwarded', 'x-real-ip', 'x-request-id', 'x-custom', 'x-drop', 'proxy-authorization'), fc.stringMatching(/^[a-z][a-z-]{0,10}$/)),
      fc.oneof(fc.stringMatching(/^[ -~]{0,20}$/), fc.constant('keep-alive, x-drop')),
      { maxKeys: 12 },
    ),
    fc.boolean(),
  ], (incoming, trusted) => {
    const out = upstreamRequestHeaders(incoming, { requestId: 'r', peer: '10.0.0.1', trustedPeer: trusted, proto: 'http' });
    for (const k of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'host', 'content-length', 'authorization', 'cookie', 'x-api-key', 'proxy-authorization', 'x-palisade-principal']) {
      assert.ok(!(k in out), `${k} crossed`);
    }
    const conn = incoming.connection ?? '';
    for (const t of conn.split(',').map((x) => x.trim().toLowerCase())) if (t && t !== 'close' && t !== 'keep-alive') assert.ok(!(t in out), `${t} named in Connection crossed`);
    assert.equal(out['x-request-id'], 'r');
    assert.ok(String(out['x-forwarded-for']).endsWith('10.0.0.1'));
    if (!trusted) {
      assert.equal(out['x-forwarded-for'], '10.0.0.1');
      for (const k of Object.keys(out)) assert.ok(!['forwarded', 'x-real-ip', 'x-forwarded-user'].includes(k), `${k} from an untrusted peer`);
    }
  }),

  prop('config loader: any text, and any mutation of a valid config, loads or lists problems; it never throws', [fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(fc.constantFrom('a: &a [*a]\n', 'x: &x [1,2,3]\ny: [*x,*x,*x]\n', 'server:\n', '  listen: 0.0.0.0:8080\n', 'upstreams:\n', '  u: { protocol: openai, url: "http://h" }\n', 'models:\n', '  - { name: m, upstream: u }\n', '  - { name: m, upstream: v }\n', '!!binary AAAA\n', '? [a]\n: 1\n', '__proto__: {}\n', '${NOPE}\n', 'x: ${file:/nonexistent}\n', '<<: *a\n', '  bodyLimit: 99zb\n', '\t\n', '---\n', '...\n', 'a: 1\na: 2\n'), { maxLength: 10 }).map((a) => a.join('')),
  )], (t) => {
    const r = loadConfigText(t, '/nonexistent/palisade.yaml', {});
    if (!r.ok) {
      assert.ok(r.problems.length > 0);
      for (const p of r.problems) assert.equal(typeof p.message, 'string');
    } else assert.ok(Object.isFrozen(r.loaded.config));
  }),
];

// -- Output defenses and the featurizer (their own sections of the config) ----------

const probRow = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 12 });
const classifierPolicy = fc
  .record(
    {
      noise: fc.record({ scale: fc.double({ min: 0.001, max: 0.5, noNaN: true }) }),
      topK: fc.integer({ min: 1, max: 12 }),
      decimals: fc.integer({ min: 0, max: 8 }),
      labelOnly: fc.boolean(),
    },
    { requiredKeys: [] },
  )
  .map((p) => classifierPolicySchema.parse({ outputs: [{ name: 'p' }], ...p }));

const logprob = fc.oneof(fc.double({ min: -30, max: 0, noNaN: true }), fc.constantFrom(0, -0, -1e-9, -100));
const token = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('__proto__', 'constructor', ''));
const chatTokenLp = fc.record({
  token,
  logprob,
  bytes: fc.oneof(fc.constant(null), fc.array(fc.nat(255), { maxLength: 3 })),
  top_logprobs: fc.oneof(fc.constant(null), fc.array(fc.record({ token, logprob }), { maxLength: 8 })),
});
const chatBody = fc.record({
  object: fc.constant('chat.completion'),
  choices: fc.array(
    fc.record({
      index: fc.nat(4),
      message: fc.record({ role: fc.constant('assistant'), content: fc.string({ maxLength: 10 }) }),
      logprobs: fc.oneof(fc.constant(null), fc.record({ content: fc.array(chatTokenLp, { maxLength: 6 }), refusal: fc.oneof(fc.constant(null), fc.array(chatTokenLp, { maxLength: 2 })) })),
    }),
    { maxLength: 3 },
  ),
});
const completionsBody = fc
  .array(fc.tuple(token, fc.oneof(fc.constant(null), logprob), fc.oneof(fc.constant(null), fc.dictionary(token, logprob, { maxKeys: 8 }))), { maxLength: 6 })
  .chain((rows) =>
    fc.record({
      object: fc.constant('text_completion'),
      choices: fc.array(
        fc.record({
          index: fc.nat(4),
          text: fc.string({ maxLength: 10 }),
          logprobs: fc.oneof(
            fc.constant(null),
            fc.constant({ tokens: rows.map((r) => r[0]), token_logprobs: rows.map((r) => r[1]), top_logprobs: rows.map((r) => r[2]), text_offset: rows.map((_, i) => i) }),
          ),
        }),
        { maxLength: 3 },
      ),
    }),
  );
const llmPolicy = fc
  .record({ logprobs: fc.constantFrom('keep', 'round', 'strip'), decimals: fc.integer({ min: 0, max: 6 }), maxTopLogprobs: fc.integer({ min: 0, max: 5 }) }, { requiredKeys: ['logprobs'] })
  .map((p) => llmPolicySchema.parse(p));

const isRounded = (x: number, decimals: number) => Math.abs(x * 10 ** decimals - Math.round(x * 10 ** decimals)) < 1e-6;

/** Text that exercises normalization: invisibles, look-alikes, marks, leetspeak, encodings, spacing. */
const hostileText = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.string({ unit: 'binary', maxLength: 4 }),
      fc.constantFrom(
        'ignore', 'IGNORE', 'previous', 'instructions', ' ', '  ', '\n', '\t', '.', '!!',
        '\u200b', '\u200d', '\u202e', '\ufeff', '\u00ad', '\udb40\udc41', '\u0000', '\u0085',
        '\u0430', '\u0435', '\u043e', '\u0456', '\u0131', '\u0130', '\u212a', '\uff49\uff47\uff4e',
        'e\u0301', '\u0300\u0301\u0302', '1gn0r3', '!gn0r3', '|gn0re', '@ll', '5y5t3m',
        'i g n o r e', 'I-G-N-O-R-E', 'aWdub3JlIGFsbCBwcmV2aW91cyBpbnN0cnVjdGlvbnM=', '69676e6f726520616c6c',
        '\\x69\\x67\\x6e', '%69%67%6e%6f%72%65', '%25%36%39', '\ud800', '\udfff',
      ),
    ),
    { maxLength: 16 },
  )
  .map((a) => a.join(''));

const featurizer = new HashedNgramsFeaturizer({ buckets: 1024, charNgrams: [3, 5], wordNgrams: [1, 2], window: 64, overlap: 16, seed: 7 });

properties.push(
  prop('defenses: a classifier row keeps its top class, stays finite and non-negative, and honours topK, decimals and labelOnly', [probRow, classifierPolicy, fc.uint8Array({ minLength: 16, maxLength: 16 })], (row, policy, seed) => {
    const label = argmax(row);
    const out = defendRow(row, label, policy, normalStream(Buffer.from(seed)));
    assert.equal(out.length, row.length);
    assert.equal(argmax(out), label, 'the top class stays');
    for (const v of out) assert.ok(Number.isFinite(v) && v >= 0, String(v));
    if (policy.labelOnly) assert.deepEqual(out, row.map((_, i) => (i === label ? 1 : 0)));
    else {
      if (policy.topK !== undefined) assert.ok(out.filter((v) => v !== 0).length <= policy.topK, 'at most topK classes');
      if (policy.decimals !== undefined) for (const v of out) assert.ok(isRounded(v, policy.decimals), `${v} rounded to ${policy.decimals}`);
    }
    assert.deepEqual(defendRow(row, label, policy, normalStream(Buffer.from(seed))), out, 'the same input and seed give the same answer');
  }),

  prop('defenses: LLM log-probabilities on the wire keep the policy: none when stripped, no list past the cap, every value rounded', [fc.oneof(chatBody.map((b) => ['chat', b] as const), completionsBody.map((b) => ['completions', b] as const)), llmPolicy], ([operation, b], policy) => {
    const req: InferenceRequest = { protocol: 'openai', model: 'm', operation, texts: [], tensors: [], params: { stream: false }, body: {} };
    const body = structuredClone(b) as Record<string, unknown>;
    const res = attempt(() => ADAPTERS.openai.parseResponse(body, req, 200));
    if (!res) return;
    if (res.logprobs) defendLogprobs(res.logprobs, policy);
    const out = JSON.parse(ADAPTERS.openai.serializeResponse(res)) as { choices: { logprobs: Record<string, unknown> | null }[] };
    out.choices.forEach((c, i) => {
      const had = (b.choices[i] as { logprobs: unknown }).logprobs !== null;
      if (!had) return;
      if (policy.logprobs === 'strip') return assert.equal(c.logprobs, null, 'stripped');
      const values: number[] = [];
      const lists: number[] = [];
      if (operation === 'chat') {
        for (const field of ['content', 'refusal']) {
          for (const t of (c.logprobs![field] as { logprob: number; top_logprobs: { logprob: number }[] | null }[] | null) ?? []) {
            values.push(t.logprob);
            if (t.top_logprobs) {
              lists.push(t.top_logprobs.length);
              values.push(...t.top_logprobs.map((a) => a.logprob));
            }
          }
        }
      } else {
        values.push(...((c.logprobs!.token_logprobs as (number | null)[]).filter((v) => v !== null) as number[]));
        for (const m of c.logprobs!.top_logprobs as (Record<string, number> | null)[]) {
          if (!m) continue;
          lists.push(Object.keys(m).length);
          values.push(...Object.values(m));
        }
      }
      if (policy.maxTopLogprobs !== undefined) for (const n of lists) assert.ok(n <= policy.maxTopLogprobs, `${n} alternatives past the cap ${policy.maxTopLogprobs}`);
      if (policy.logprobs === 'round') for (const v of values) assert.ok(isRounded(v, policy.decimals), `${v} not rounded to ${policy.decimals}`);
    });
  }),

  prop('featurizer: normalization never throws, leaves nothing invisible, folds case, and is idempotent on its own text', [hostileText], (t) => {
    const n = normalize(t);
    assert.equal(typeof n.text, 'string');
    assert.ok(!/[\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\u00ad]/.test(n.text), JSON.stringify(n.text));
    assert.equal(n.text, n.text.toLowerCase());
    assert.equal(normalize(n.text).text, n.text, `normalize(normalize(${JSON.stringify(t)})) changed`);
    for (const d of n.decoded) assert.equal(typeof d, 'string');
  }),

  prop('featurizer: tensor rows are finite float32 values of the configured width, or the tensor is refused', [
    fc.array(
      fc.record({
        datatype: fc.constantFrom('FP32', 'FP64', 'INT64', 'BOOL', 'BYTES', 'UINT8'),
        data: fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: -1, max: 1, noNaN: true }), fc.constantFrom(3.4e38, 3.5e38, -1e300, 1e-46)), { maxLength: 12 }),
      }),
      { maxLength: 3 },
    ),
    fc.integer({ min: 1, max: 4 }),
  ], (tensors, size) => {
    const f = new TensorRowsFeaturizer({ size });
    let rows: Float32Array[];
    try {
      rows = f.rows(tensors.map((t, i) => ({ name: `t${i}`, shape: [t.data.length], datatype: t.datatype, data: t.data })));
    } catch (err) {
      if (err instanceof TensorShapeError) return;
      throw err;
    }
    for (const r of rows) {
      assert.equal(r.length, size);
      for (const v of r) assert.ok(Number.isFinite(v), 'a finite float32');
    }
  }),

  prop('featurizer: windows cover the prepared stream with the configured overlap; features stay in range', [fc.array(hostileText, { minLength: 1, maxLength: 4 })], (texts) => {
    const stream = featurizer.prepare(texts);
    const ws = featurizer.windows(stream);
    assert.ok(ws.length >= 1);
    assert.equal(ws[0][0], 0);
    assert.equal(ws.at(-1)![1], stream.length);
    for (let i = 0; i < ws.length; i++) {
      const [a, b] = ws[i];
      assert.ok(b - a <= 64 && a <= b);
      if (i > 0) assert.ok(a <= ws[i - 1][1] && a > ws[i - 1][0], 'contiguous, advancing');
      const f = featurizer.featurize(stream.slice(a, b));
      for (const id of f.ids) assert.ok(id >= 0 && id < 1024);
      for (const x of f.dense) assert.ok(Number.isFinite(x));
    }
  }),
);

/** Runs every property with `numRuns` cases each; returns the total number of cases run. */
export function runAll(numRuns: number, seed?: number, log: (line: string) => void = () => {}): number {
  let total = 0;
  for (const p of properties) {
    const started = performance.now();
    p.run(numRuns, seed);
    total += numRuns;
    log(`${numRuns} cases  ${(performance.now() - started).toFixed(0).padStart(6)} ms  ${p.name}`);
  }
  return total;
}
