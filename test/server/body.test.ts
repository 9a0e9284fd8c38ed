import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isJsonContentType, jsonDepthExceeds, parseJsonBody, parseJsonRequest, parseJsonResponse } from '../../src/server/body.js';
import { mutableBody } from '../../src/protocols/adapter.js';
import type { InferenceRequest } from '../../src/pipeline/types.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return 'no error';
};

test('prototype poisoning keys are refused', () => {
  assert.equal(code(() => parseJsonBody(Buffer.from('{"__proto__":{"admin":true}}'), 64)), 'PALISADE_BAD_REQUEST');
  assert.equal(code(() => parseJsonBody(Buffer.from('{"a":{"constructor":{"prototype":{"x":1}}}}'), 64)), 'PALISADE_BAD_REQUEST');
  assert.deepEqual(parseJsonBody(Buffer.from('{"constructor":"fine"}'), 64), { constructor: 'fine' });
});

test('invalid UTF-8 is refused, not replaced', () => {
  assert.equal(code(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 64)), 'PALISADE_BAD_REQUEST');
});

test('nesting past the bound is refused before parsing; brackets inside strings do not count', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  assert.equal(code(() => parseJsonBody(Buffer.from(deep), 64)), 'PALISADE_BAD_REQUEST');
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[[[[[\\"[[[["}', 3), false);
  assert.equal(jsonDepthExceeds('[[[[1]]]]', 3), true);
});

test('duplicate keys: the parsed (last) value is what gets forwarded', () => {
  const v = parseJsonBody(Buffer.from('{"model":"a","model":"b"}'), 64) as { model: string };
  assert.equal(JSON.stringify(v), '{"model":"b"}');
});

test('content types', () => {
  assert.ok(isJsonContentType('application/json; charset=utf-8'));
  assert.ok(isJsonContentType('application/vnd.api+json'));
  assert.ok(!isJsonContentType('text/plain'));
  assert.ok(!isJsonContentType(undefined));
});

test('no byte sequence makes the parser throw anything but a gateway error (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const c = code(() => parseJsonBody(Buffer.from(bytes), 8));
      assert.ok(c === 'no error' || c === 'PALISADE_BAD_REQUEST', String(c));
    }),
    { numRuns: 2000 },
  );
});

test('exact bytes: forwardable when no parser can read them otherwise; the value is deeply frozen', () => {
  const ok = Buffer.from('{ "a": [1, 2.5, -3, {"b": "x\\"y"}], "c": true, "d": null }');
  const p = parseJsonRequest(ok, 64);
  assert.equal(p.exact, ok);
  const v = p.value as { a: unknown[] };
  assert.ok(Object.isFrozen(v) && Object.isFrozen(v.a) && Object.isFrozen(v.a[3]));
  assert.throws(() => {
    (v.a[3] as { b: string }).b = 'changed';
  }, TypeError);
  for (const body of ['{"a":1,"a":2}', '{"a":{"b":1,"\\u0062":2}}', '{"a":1e3}', '{"a":12345678901234567}', '\ufeff{"a":1}']) {
    assert.equal(parseJsonRequest(Buffer.from(body), 64).exact, undefined, body);
  }
});

test('mutableBody: a deep copy once, the parsed body untouched', () => {
  const parsed = parseJsonRequest(Buffer.from('{"model":"m","stream_options":{"x":1}}'), 64).value;
  const req = { body: parsed } as InferenceRequest;
  const b = mutableBody(req);
  (b.stream_options as { x: number }).x = 2;
  assert.notEqual(req.body, parsed);
  assert.equal(mutableBody(req), b, 'copied once');
  assert.deepEqual(parsed, { model: 'm', stream_options: { x: 1 } });
});

test('scanJson: member count and depth (property: agrees with the parsed value)', () => {
  fc.assert(
    fc.property(fc.json({ maxDepth: 6 }), (s) => {
      const members = (x: unknown): number =>
        x && typeof x === 'object' ? (Array.isArray(x) ? 0 : Object.keys(x).length) + Object.values(x).reduce((n: number, y) => n + members(y), 0) : 0;
      const forbidden = (x: unknown): boolean =>
        !!x && typeof x === 'object' &&
        Object.entries(x).some(([k, y]) => k === '__proto__' || (k === 'constructor' && !!y && typeof y === 'object' && Object.hasOwn(y, 'prototype')) || forbidden(y));
      // fast-check's JSON may hold a `__proto__` key (JSON.parse makes it an own key): refused.
      if (forbidden(JSON.parse(s))) {
        assert.throws(() => parseJsonRequest(Buffer.from(s), 64), { code: 'PALISADE_BAD_REQUEST' });
        return;
      }
      const p = parseJsonRequest(Buffer.from(s), 64);
      // fast-check's JSON has no duplicate keys: a member count that differs would show as not exact.
      if (p.exact === undefined) assert.ok(/[eE]|[-+.\d]{16}/.test(s) || members(JSON.parse(s)) !== members(p.value), s);
      assert.deepEqual(p.value, JSON.parse(s));
    }),
    { numRuns: 1000 },
  );
});

test('responses: exact when no client parser can read the bytes otherwise; forbidden keys refused', () => {
  assert.equal(parseJsonResponse(Buffer.from('{ "choices": [ {"logprobs": null, "x": [1, -2.5]} ] }')).exact, true);
  for (const body of ['{"a":1,"a":2}', '{"c":[{"logprobs":{"x":1},"logprobs":null}]}', '{"a":1e3}', '{"a":12345678901234567}', '\ufeff{"a":1}']) {
    const p = parseJsonResponse(Buffer.from(body));
    assert.equal(p.exact, false, body);
  }
  assert.deepEqual(parseJsonResponse(Buffer.from('{"a":1,"a":2}')).value, { a: 2 });
  assert.throws(() => parseJsonResponse(Buffer.from('{"__proto__":{"x":1}}')), SyntaxError);
});
