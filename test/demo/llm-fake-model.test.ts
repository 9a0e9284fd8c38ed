import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendLegacyLogprobs, chatLogprob, countTokens, DEMO_SENTENCE, embed, naturalReplyLength,
  replyTokens, splitPromptTokens, tokenLogprob,
} from '../../src/demo/llm-fake-model.js';

const ALL_SPACES = '\t\n\v\f\r \u00a0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';

describe('llm-fake-model', () => {
  it('counts tokens exactly as a split on JavaScript whitespace', () => {
    for (const text of ['', '   ', 'one', ' two  words ', `a${ALL_SPACES}b${ALL_SPACES}`, 'x\u200by', '🙂 ok']) {
      const expected = text.split(/\s+/).filter((w) => w !== '').length;
      assert.equal(countTokens(text), expected, JSON.stringify(text));
    }
  });

  it('splits a prompt into tokens that concatenate back to it', () => {
    for (const text of ['Say  hi ', '  lead', 'one', 'a\nb\tc  ', '']) {
      const tokens = splitPromptTokens(text);
      assert.equal(tokens.join(''), text);
      assert.equal(tokens.length, countTokens(text));
    }
  });

  it('replies with the echo then the sentence, cut or repeated to the count', () => {
    const natural = replyTokens('Hello   world', undefined, false);
    assert.equal(natural.join(''), `You said: Hello world. ${DEMO_SENTENCE}`);
    assert.equal(natural.length, naturalReplyLength('Hello   world'));
    const five = replyTokens('Hello world', 5, false);
    assert.deepEqual(five, ['You', ' said:', ' Hello', ' world.', ' The']);
    const long = replyTokens('x', 40, true);
    assert.equal(long.length, 40);
    assert.ok(long.every((t) => t.startsWith(' ')));
    // The 40-code-point cut never splits a surrogate pair.
    const emoji = replyTokens('🙂'.repeat(50), undefined, false).join('');
    assert.ok(emoji.includes('🙂'.repeat(40) + '.'));
    assert.ok(!emoji.includes('🙂'.repeat(41)));
  });

  it('ranks the chosen token first in top_logprobs, alternatives strictly below', () => {
    for (let pos = 0; pos < 30; pos++) {
      const e = chatLogprob(' the', pos, pos % 3, 20);
      assert.equal(e.top_logprobs.length, 20);
      assert.equal(e.top_logprobs[0].token, ' the');
      assert.equal(new Set(e.top_logprobs.map((t) => t.token)).size, 20);
      for (let i = 1; i < 20; i++) assert.ok(e.top_logprobs[i].logprob < e.top_logprobs[i - 1].logprob);
      const mass = e.top_logprobs.reduce((s, t) => s + Math.exp(t.logprob), 0);
      assert.ok(mass <= 1, `probability mass ${mass}`);
    }
    assert.deepEqual(chatLogprob('é', 0, 0, 0), { token: 'é', logprob: tokenLogprob(0, 0, 'é'), bytes: [0xc3, 0xa9], top_logprobs: [] });
  });

  it('keeps a __proto__ token as an ordinary key of a legacy top_logprobs entry', () => {
    const lp = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    appendLegacyLogprobs(lp, ['__proto__'], 0, 2, 0, 0, false);
    const top = lp.top_logprobs[0] as Record<string, number>;
    assert.deepEqual(Object.keys(top).sort(), ['__proto__', 'the'].sort());
    assert.equal(Object.getPrototypeOf(top), Object.prototype);
  });

  it('embeds deterministically into unit vectors', () => {
    const a = embed('hello', 16);
    assert.deepEqual(embed('hello', 16), a);
    assert.notDeepEqual(embed('hellp', 16), a);
    const norm = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5);
    assert.equal(embed('x', 3).length, 3);
  });
});
