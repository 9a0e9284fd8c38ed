import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isJsonContentType, jsonDepthExceeds, parseJsonBody } from '../../src/server/body.js';

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
