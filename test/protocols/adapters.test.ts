import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RouteMatch } from '../../src/pipeline/types.js';
import { kserveV2Adapter } from '../../src/protocols/kserve-v2.js';
import { openaiAdapter } from '../../src/protocols/openai.js';
import { tfservingAdapter } from '../../src/protocols/tfserving.js';

const route = (protocol: RouteMatch['protocol'], operation: string, modelFromPath?: string): RouteMatch => ({
  protocol,
  operation,
  modelFromPath,
  upstreamPath: '/',
  query: '',
});

test('openai chat: every text a model reads, params, upstream model rewrite', () => {
  const body = {
    model: 'demo',
    messages: [
      { role: 'system', content: 'be nice' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'x' } }] },
      { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"q":"ignore all"}' } }] },
      { role: 'tool', content: 'result' },
    ],
    max_tokens: 20,
    logprobs: true,
    top_logprobs: 3,
    n: 2,
    stream: true,
  };
  const r = openaiAdapter.parseRequest({ route: route('openai', 'chat'), model: 'demo', upstreamModel: 'real-name', body });
  assert.deepEqual(r.texts.map((t) => [t.role, t.text, t.path]), [
    ['system', 'be nice', 'messages[0].content'],
    ['user', 'hi', 'messages[1].content[0].text'],
    ['assistant', '{"q":"ignore all"}', 'messages[2].tool_calls[0].function.arguments'],
    ['tool', 'result', 'messages[3].content'],
  ]);
  assert.deepEqual(r.params, { stream: true, maxTokens: 20, logprobs: true, topLogprobs: 3, n: 2 });
  assert.equal((r.body as { model: string }).model, 'real-name');
});

test('openai: malformed bodies are 400s; token-id prompts are refused (they cannot be inspected)', () => {
  const bad = [
    { model: 'm', messages: 'hi' },
    { model: 'm', messages: [] },
    { model: 'm', messages: [{ role: 'user', content: 5 }] },
    { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: -1 },
    { model: 'm', messages: [{ role: 'user', content: 'x' }], stream: 'yes' },
  ];
  for (const b of bad) {
    assert.throws(() => openaiAdapter.parseRequest({ route: route('openai', 'chat'), model: 'm', upstreamModel: 'm', body: b }), { code: 'PALISADE_BAD_REQUEST' });
  }
  assert.throws(
    () => openaiAdapter.parseRequest({ route: route('openai', 'completions'), model: 'm', upstreamModel: 'm', body: { model: 'm', prompt: [1, 2, 3] } }),
    { code: 'PALISADE_BAD_REQUEST' },
  );
  const c = openaiAdapter.parseRequest({ route: route('openai', 'completions'), model: 'm', upstreamModel: 'm', body: { model: 'm', prompt: ['a', 'b'], logprobs: 2, echo: true } });
  assert.deepEqual(c.params, { stream: false, maxTokens: undefined, logprobs: true, topLogprobs: 2, n: undefined, echo: true });
  assert.equal(c.texts.length, 2);
});

test('kserve v2: tensors with shape checks, BYTES as texts, body model must match the path', () => {
  const body = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [[0.1, 0.2], [0.3, 0.4]] }, { name: 't', shape: [1], datatype: 'BYTES', data: ['hello'] }] };
  const r = kserveV2Adapter.parseRequest({ route: route('kserve-v2', 'infer', 'mnist'), model: 'mnist', upstreamModel: 'mnist', body });
  assert.deepEqual(r.tensors, [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4] }]);
  assert.deepEqual(r.texts, [{ role: 'input', text: 'hello', path: 'inputs[1].data[0]' }]);
  assert.throws(
    () => kserveV2Adapter.parseRequest({ route: route('kserve-v2', 'infer', 'mnist'), model: 'mnist', upstreamModel: 'mnist', body: { inputs: [{ name: 'i', shape: [3], datatype: 'FP32', data: [1, 2] }] } }),
    { code: 'PALISADE_BAD_REQUEST' },
  );
  assert.throws(
    () => kserveV2Adapter.parseRequest({ route: route('kserve-v2', 'infer', 'mnist'), model: 'mnist', upstreamModel: 'mnist', body: { model_name: 'other', inputs: [{ name: 'i', shape: [1], datatype: 'FP32', data: [1] }] } }),
    { code: 'PALISADE_MODEL_MISMATCH' },
  );
});

test('kserve v2 responses: tensors out, changes written back', () => {
  const req = kserveV2Adapter.parseRequest({ route: route('kserve-v2', 'infer', 'm'), model: 'm', upstreamModel: 'm', body: { inputs: [{ name: 'i', shape: [1], datatype: 'FP32', data: [1] }] } });
  const res = kserveV2Adapter.parseResponse({ model_name: 'm', outputs: [{ name: 'probabilities', shape: [1, 3], datatype: 'FP32', data: [0.1, 0.7, 0.2] }] }, req, 200);
  res.tensors[0].data = [0, 1, 0];
  assert.deepEqual(JSON.parse(kserveV2Adapter.serializeResponse(res)).outputs[0].data, [0, 1, 0]);
  assert.throws(() => kserveV2Adapter.parseResponse({ outputs: 'nope' }, req, 200), { code: 'PALISADE_UPSTREAM_BAD_RESPONSE' });
});

test('tf serving: row and columnar formats, nested write-back', () => {
  const r = tfservingAdapter.parseRequest({ route: route('tfserving', 'predict', 'm'), model: 'm', upstreamModel: 'm', body: { instances: [[1, 2], [3, 4]] } });
  assert.deepEqual(r.tensors[0].shape, [2, 2]);
  const named = tfservingAdapter.parseRequest({ route: route('tfserving', 'predict', 'm'), model: 'm', upstreamModel: 'm', body: { instances: [{ a: [1, 2] }, { a: [3, 4] }] } });
  assert.deepEqual(named.tensors[0], { name: 'a', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] });
  assert.throws(() => tfservingAdapter.parseRequest({ route: route('tfserving', 'predict', 'm'), model: 'm', upstreamModel: 'm', body: { instances: [[1, 2], [3]] } }), { code: 'PALISADE_BAD_REQUEST' });
  const res = tfservingAdapter.parseResponse({ predictions: [[0.2, 0.8], [0.6, 0.4]] }, r, 200);
  assert.deepEqual(res.tensors[0].shape, [2, 2]);
  res.tensors[0].data = [0, 1, 1, 0];
  assert.deepEqual(JSON.parse(tfservingAdapter.serializeResponse(res)).predictions, [[0, 1], [1, 0]]);
});

test('no JSON value makes an adapter throw anything but a gateway error (property)', () => {
  const cases = [
    [openaiAdapter, 'openai', 'chat'],
    [openaiAdapter, 'openai', 'completions'],
    [openaiAdapter, 'openai', 'embeddings'],
    [kserveV2Adapter, 'kserve-v2', 'infer'],
    [tfservingAdapter, 'tfserving', 'predict'],
  ] as const;
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(...cases), (body, [adapter, protocol, op]) => {
      try {
        adapter.parseRequest({ route: route(protocol, op, 'm'), model: 'm', upstreamModel: 'm', body: structuredClone(body) });
      } catch (e) {
        assert.match(String((e as { code?: string }).code), /^PALISADE_(BAD_REQUEST|MODEL_MISMATCH)$/);
      }
    }),
    { numRuns: 3000 },
  );
});

const tfReq = { protocol: 'tfserving' as const, model: 'm', operation: 'predict', texts: [], tensors: [], params: { stream: false }, body: {} };
const ksReq = { ...tfReq, protocol: 'kserve-v2' as const, operation: 'infer' };

test('regression: a TF Serving response with predictions: null was read from outputs and written back to predictions (outputs passed unchanged)', () => {
  for (const body of [{ predictions: null, outputs: [[0.9, 0.1]] }, { predictions: [[0.9, 0.1]], outputs: [[0.9, 0.1]] }]) {
    assert.throws(() => tfservingAdapter.parseResponse(body, tfReq, 200), (e: any) => e.code === 'PALISADE_UPSTREAM_BAD_RESPONSE', JSON.stringify(body));
  }
});

test('regression: a TF Serving output name with a dot was written back under its first part, the original unchanged', () => {
  const res = tfservingAdapter.parseResponse({ outputs: { 'scores.v2': [[0.9, 0.1]] } }, tfReq, 200);
  res.tensors[0].data = [0.5, 0.5];
  assert.deepEqual(JSON.parse(tfservingAdapter.serializeResponse(res)), { outputs: { 'scores.v2': [[0.5, 0.5]] } });
});

test('regression: KServe outputs sharing a name were both given the last one\'s values; a shape that does not describe the data reached the stages', () => {
  const dup = { outputs: [{ name: 'p', shape: [1, 2], datatype: 'FP32', data: [0.9, 0.1] }, { name: 'p', shape: [1, 2], datatype: 'FP32', data: [0.2, 0.8] }] };
  assert.throws(() => kserveV2Adapter.parseResponse(dup, ksReq, 200), (e: any) => e.code === 'PALISADE_UPSTREAM_BAD_RESPONSE');
  for (const shape of [[3], [-1, 2], [1.5, 2]]) {
    const bad = { outputs: [{ name: 'p', shape, datatype: 'FP32', data: [0.9, 0.1] }] };
    assert.throws(() => kserveV2Adapter.parseResponse(bad, ksReq, 200), (e: any) => e.code === 'PALISADE_UPSTREAM_BAD_RESPONSE', JSON.stringify(shape));
  }
});
