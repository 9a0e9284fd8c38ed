import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readLogprobs, writeLogprobs } from '../../src/protocols/openai-logprobs.js';

const chat = () => ({
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hi there' },
      logprobs: {
        content: [
          { token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }, { token: 'Hello', logprob: -1.25, bytes: null }] },
          { token: ' there', logprob: -0.01, bytes: [32], top_logprobs: [] },
        ],
        refusal: null,
      },
    },
    { index: 1, message: { role: 'assistant', content: 'x' }, logprobs: null },
  ],
});

const completions = () => ({
  choices: [
    {
      text: 'ab',
      index: 0,
      logprobs: {
        tokens: ['a', 'b'],
        token_logprobs: [null, -0.75],
        // Not sorted on purpose: the view sorts, most likely first.
        top_logprobs: [null, { z: -3, b: -0.75, __proto__x: -2 }],
        text_offset: [0, 1],
      },
    },
  ],
});

test('chat: the view lists every scored token of the choices that have logprobs', () => {
  const v = readLogprobs(chat(), 'chat')!;
  assert.equal(v.length, 1);
  assert.equal(v[0].choice, 0);
  assert.deepEqual(v[0].tokens[0], { logprob: -0.5, top: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }, { token: 'Hello', logprob: -1.25, bytes: null }] });
  assert.deepEqual(v[0].tokens[1], { logprob: -0.01, top: [] });
});

test('an untouched view writes back the same body', () => {
  for (const [body, format] of [[chat(), 'chat'], [completions(), 'completions']] as const) {
    const before = JSON.parse(JSON.stringify(body));
    const v = readLogprobs(body, format)!;
    writeLogprobs(body, format, v);
    if (format === 'completions') before.choices[0].logprobs.top_logprobs[1] = { b: -0.75, __proto__x: -2, z: -3 };
    assert.deepEqual(JSON.parse(JSON.stringify(body)), before);
  }
});

test('changes to the view reach the body: chat', () => {
  const body = chat();
  const v = readLogprobs(body, 'chat')!;
  v[0].tokens[0].logprob = -1;
  v[0].tokens[0].top = v[0].tokens[0].top!.slice(0, 1);
  writeLogprobs(body, 'chat', v);
  assert.equal(body.choices[0].logprobs!.content[0].logprob, -1);
  assert.deepEqual(body.choices[0].logprobs!.content[0].top_logprobs, [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }]);
  v[0].strip = true;
  writeLogprobs(body, 'chat', v);
  assert.equal(body.choices[0].logprobs, null);
});

test('changes to the view reach the body: completions, including a __proto__ token', () => {
  const body = completions() as any;
  body.choices[0].logprobs.top_logprobs[1] = JSON.parse('{"__proto__": -0.5, "b": -0.75}');
  const v = readLogprobs(body, 'completions')!;
  assert.deepEqual(v[0].tokens[1].top!.map((t) => t.token), ['__proto__', 'b']);
  v[0].tokens[1].top = v[0].tokens[1].top!.slice(0, 1);
  v[0].tokens[1].logprob = -0.8;
  writeLogprobs(body, 'completions', v);
  assert.equal(JSON.stringify(body.choices[0].logprobs.top_logprobs), '[null,{"__proto__":-0.5}]');
  assert.deepEqual(body.choices[0].logprobs.token_logprobs, [null, -0.8]);
});

test('a logprobs shape that is not the protocol is a bad upstream response', () => {
  const bad = [
    { choices: [{ logprobs: 'x' }] },
    { choices: [{ logprobs: { content: [{ token: 'a' }] } }] },
    { choices: [{ logprobs: { content: [{ token: 'a', logprob: -1, top_logprobs: [{ token: 1, logprob: 0 }] }] } }] },
  ];
  for (const b of bad) assert.throws(() => readLogprobs(b, 'chat'), { code: 'PALISADE_UPSTREAM_BAD_RESPONSE' });
  assert.throws(() => readLogprobs({ choices: [{ logprobs: { token_logprobs: [-1], top_logprobs: [] } }] }, 'completions'), { code: 'PALISADE_UPSTREAM_BAD_RESPONSE' });
  assert.throws(() => readLogprobs({ choices: [{ logprobs: { token_logprobs: ['x'] } }] }, 'completions'), { code: 'PALISADE_UPSTREAM_BAD_RESPONSE' });
});

test('no JSON value makes the reader throw anything but a gateway error (property)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom('chat', 'completions'), (lp, format) => {
      try {
        readLogprobs({ choices: [{ logprobs: lp }] }, format as 'chat' | 'completions');
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'PALISADE_UPSTREAM_BAD_RESPONSE');
      }
    }),
    { numRuns: 2000 },
  );
});
