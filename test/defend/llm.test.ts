import assert from 'node:assert/strict';
import { test } from 'node:test';
import { llmPolicySchema } from '../../src/defend/config.js';
import { checkLlmRequest, defendLogprobs } from '../../src/defend/llm.js';
import type { ChoiceLogprobs } from '../../src/pipeline/types.js';

const policy = (p: object) => llmPolicySchema.parse(p);

test('requests within the policy pass unchanged', () => {
  const r = checkLlmRequest({ stream: false, logprobs: true, topLogprobs: 2, n: 2 }, 'chat', policy({ maxTopLogprobs: 2, maxN: 2 }));
  assert.deepEqual(r, { excess: [], change: {} });
});

test('over-cap top_logprobs, n, and echo with logprobs are each reported with their clamp', () => {
  const r = checkLlmRequest({ stream: false, logprobs: true, topLogprobs: 5, n: 8, echo: true }, 'completions', policy({ maxTopLogprobs: 1, maxN: 2 }));
  assert.deepEqual(r.change, { topLogprobs: 1, echo: false, n: 2 });
  assert.equal(r.excess.length, 3);
  assert.match(r.excess[0], /^logprobs may be at most 1/);
  assert.match(r.excess[1], /echo/);
});

test('strip makes any request for logprobs an excess; echo without logprobs is fine', () => {
  const p = policy({ logprobs: 'strip' });
  assert.deepEqual(checkLlmRequest({ stream: false, logprobs: true, topLogprobs: 0 }, 'completions', p).change, { logprobs: false });
  assert.deepEqual(checkLlmRequest({ stream: false, echo: true }, 'completions', p).excess, []);
});

const view = (): ChoiceLogprobs[] => [
  {
    choice: 0,
    tokens: [
      { logprob: -0.123456, top: [{ token: 'a', logprob: -0.123456 }, { token: 'b', logprob: -2.71828 }, { token: 'c', logprob: -3.5 }] },
      { logprob: null, top: null },
    ],
  },
];

test('round rounds every log-probability; the cap shortens top lists', () => {
  const v = view();
  const e = defendLogprobs(v, policy({ logprobs: 'round', decimals: 1, maxTopLogprobs: 2 }));
  assert.deepEqual(v[0].tokens[0], { logprob: -0.1, top: [{ token: 'a', logprob: -0.1 }, { token: 'b', logprob: -2.7 }] });
  assert.deepEqual(v[0].tokens[1], { logprob: null, top: null });
  assert.equal(e.truncated, 1);
});

test('strip marks every choice', () => {
  const v = view();
  defendLogprobs(v, policy({ logprobs: 'strip' }));
  assert.equal(v[0].strip, true);
});
