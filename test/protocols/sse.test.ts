import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SseParser, SseRelay, formatSse, sseErrorEvent } from '../../src/protocols/sse.js';

test('events split anywhere, even inside UTF-8 and CRLF, come out whole', () => {
  const stream = Buffer.from('data: {"a":"é"}\r\n\r\n: keep-alive\n\nevent: x\nid: 7\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n');
  for (let cut = 1; cut < stream.length; cut++) {
    const p = new SseParser();
    const evs = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
    assert.deepEqual(evs, [
      { data: '{"a":"é"}' },
      { comments: [' keep-alive'] },
      { event: 'x', id: '7', data: 'l1\nl2' },
      { data: '[DONE]' },
    ], `cut at ${cut}`);
  }
});

test('an event over the size bound throws instead of buffering without end', () => {
  const p = new SseParser(100);
  assert.throws(() => p.push(`data: ${'x'.repeat(200)}`), /larger than 100/);
});

test('format then parse is the identity on data (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme' }).filter((s) => !/[\r]/.test(s)), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 50 }), (datas, chunk) => {
      const text = datas.map((d) => formatSse({ data: d })).join('');
      const p = new SseParser();
      const buf = Buffer.from(text);
      const evs = [];
      for (let i = 0; i < buf.length; i += chunk) evs.push(...p.push(buf.subarray(i, i + chunk)));
      assert.deepEqual(evs.map((e) => e.data), datas);
    }),
  );
});

test('regression: a relayed SSE stream cut mid-event got its error event glued to half an event', () => {
  const relay = new SseRelay();
  const stream = 'data: {"a":1}\n\ndata: {"b":';
  const out = relay.push(Buffer.from(stream)).toString();
  assert.equal(out, 'data: {"a":1}\n\n', 'only whole events go out');
  // The stream dies here: whatever the gateway appends now starts a fresh event.
  const parser = new SseParser();
  const events = parser.push(out + sseErrorEvent('PALISADE_UPSTREAM_UNAVAILABLE', 'gone', 'r1'));
  assert.deepEqual(events.map((e) => e.event ?? 'message'), ['message', 'error']);
  assert.equal(JSON.parse(events[1].data!).error.code, 'PALISADE_UPSTREAM_UNAVAILABLE');
});

test('SseRelay passes bytes unchanged, CRLF and CR line ends included, and holds at most one event', () => {
  const input = 'data: x\r\n\r\n: comment\r\rdata: y\n\ndata: z';
  const relay = new SseRelay(64);
  let out = '';
  for (const ch of input) out += relay.push(Buffer.from(ch)).toString();
  assert.equal(out, 'data: x\r\n\r\n: comment\r\rdata: y\n\n');
  assert.equal(out + relay.end().toString(), input);
  assert.throws(() => new SseRelay(8).push(Buffer.from('data: 0123456789')), /larger than 8/);
});

test('regression: a blank line made of CRLF then CR (or LF then CR) did not end an event, merging two events into one', () => {
  for (const sep of ['\r\n\r', '\n\r']) {
    const events = new SseParser().push(`data: a${sep}data: b\n\n`);
    assert.deepEqual(events, [{ data: 'a' }, { data: 'b' }], JSON.stringify(sep));
  }
});

test('regression: the relay released a held line as an event when the LF of its CRLF came in the next chunk', () => {
  const relay = new SseRelay();
  assert.equal(relay.push(Buffer.from(':')).length, 0);
  assert.equal(relay.push(Buffer.from('\r')).length, 0);
  assert.equal(relay.push(Buffer.from('\n')).length, 0, 'one line end is no event');
  assert.equal(relay.push(Buffer.from('\r\n')).toString(), ':\r\n\r\n');
});
