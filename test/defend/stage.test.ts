import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigText, formatProblem } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createDefendStage } from '../../src/defend/stage.js';
import type { RequestContext } from '../../src/pipeline/context.js';
import type { InferenceResponse, Principal } from '../../src/pipeline/types.js';
import { ADAPTERS } from '../../src/protocols/index.js';
import { MemoryStore } from '../../src/state/memory.js';
import { silentLogger, type Services } from '../../src/services.js';

const BASE = `
upstreams:
  kserve: { protocol: kserve-v2, url: "http://127.0.0.1:1" }
  llm: { protocol: openai, url: "http://127.0.0.1:1" }
`;

function load(yaml: string): Config {
  const r = loadConfigText(BASE + yaml, 'test.yaml');
  assert.ok(r.ok, !r.ok ? r.problems.map(formatProblem).join('\n') : '');
  return r.loaded.config;
}

function problems(yaml: string): string[] {
  const r = loadConfigText(BASE + yaml, 'test.yaml');
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

const services = (): Services => ({ logger: silentLogger, observer: {}, state: new MemoryStore() });

function ctx(config: Config, model: string, operation: string, principal?: Principal): RequestContext {
  const m = config.models.find((x) => x.name === model)!;
  const protocol = config.upstreams[m.upstream].protocol;
  return {
    id: 'r1',
    startedAt: 0,
    receivedAt: 0,
    http: { method: 'POST', url: '/', path: '/', headers: {}, remoteAddress: '', clientAddress: '' },
    route: { protocol, operation, upstreamPath: '/', query: '' },
    model: { name: model, config: m, adapter: ADAPTERS[protocol] } as unknown as RequestContext['model'],
    body: undefined,
    principal,
    request: {
      protocol,
      model,
      operation,
      texts: [],
      tensors: [{ name: 'input', shape: [2, 3], datatype: 'FP32', data: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6] }],
      params: { stream: false },
      body: {},
    },
    notes: [],
    signal: new AbortController().signal,
    locals: {},
  };
}

const response = (): InferenceResponse => ({
  protocol: 'kserve-v2',
  model: 'm',
  status: 200,
  stream: false,
  body: {},
  tensors: [
    { name: 'probabilities', shape: [2, 3], datatype: 'FP32', data: [0.7, 0.2, 0.1, 0.05, 0.15, 0.8] },
    { name: 'logits', shape: [2, 3], datatype: 'FP32', data: [3, 1, 0, -1, 0, 2] },
    { name: 'label', shape: [2], datatype: 'INT64', data: [0, 2] },
  ],
});

const principal = (id: string): Principal => ({ id, scopes: [], roles: [], via: 'api-key' });

test('config: a model names an existing policy that fits its protocol; passRaw never with an enforced defense', () => {
  const policies = `
defenses:
  policies:
    c: { classifier: { outputs: [{ name: p }] } }
    l: { llm: { maxN: 1 } }
    s: { mode: shadow, llm: { maxN: 1 } }
    empty: { mode: enforce }
`;
  const got = problems(`${policies}
models:
  - { name: a, upstream: llm, defense: nope }
  - { name: b, upstream: llm, defense: c }
  - { name: c, upstream: kserve, defense: l }
  - { name: d, upstream: llm, defense: l, passRawWhenUndefended: true }
  - { name: e, upstream: llm, defense: s, passRawWhenUndefended: true }
`);
  assert.deepEqual(got, [
    'defenses.policies.empty: a policy needs `classifier` or `llm`',
    'models[0].defense: unknown defense policy "nope"',
    'models[1].defense: policy "c" has a classifier section; "llm" speaks openai',
    'models[2].defense: policy "l" has an llm section; "kserve" speaks kserve-v2',
    'models[3].passRawWhenUndefended: a model with an enforced defense never passes an unreadable response (it would pass undefended output)',
  ]);
  assert.deepEqual(problems('defenses: { noiseKey: short }\nmodels: [{ name: a, upstream: llm }]'), ['defenses.noiseKey: Too small: expected string to have >=32 characters']);
});

test('wantsResponse only when the model has a policy that touches the response', async () => {
  const config = load(`
defenses:
  policies:
    c: { classifier: { outputs: [{ name: probabilities }] } }
    keep: { llm: { maxN: 1 } }
    round: { llm: { logprobs: round } }
    off: { mode: off, llm: { logprobs: strip } }
models:
  - { name: c, upstream: kserve, defense: c }
  - { name: keep, upstream: llm, defense: keep }
  - { name: round, upstream: llm, defense: round }
  - { name: off, upstream: llm, defense: off }
  - { name: none, upstream: llm }
`);
  const stage = (await createDefendStage(config, services()))!;
  assert.equal(stage.wantsResponse!(ctx(config, 'c', 'infer')), true);
  assert.equal(stage.wantsResponse!(ctx(config, 'c', 'metadata')), false);
  assert.equal(stage.wantsResponse!(ctx(config, 'keep', 'chat')), false);
  assert.equal(stage.wantsResponse!(ctx(config, 'round', 'chat')), true);
  assert.equal(stage.wantsResponse!(ctx(config, 'round', 'embeddings')), false);
  assert.equal(stage.wantsResponse!(ctx(config, 'off', 'chat')), false);
  assert.equal(stage.wantsResponse!(ctx(config, 'none', 'chat')), false);
});

test('noise is seeded by the caller too, unless perPrincipal is false; passOutputs pass, the rest go', async () => {
  const config = load(`
defenses:
  noiseKey: "${'k'.repeat(32)}"
  policies:
    per: { classifier: { outputs: [{ name: probabilities }], passOutputs: [label], noise: { scale: 0.2 } } }
    shared: { classifier: { outputs: [{ name: probabilities }], noise: { scale: 0.2, perPrincipal: false } } }
models:
  - { name: per, upstream: kserve, defense: per }
  - { name: shared, upstream: kserve, defense: shared }
`);
  const stage = (await createDefendStage(config, services()))!;
  const run = async (model: string, p?: Principal) => {
    const res = response();
    await stage.response!(ctx(config, model, 'infer', p), res);
    return res.tensors;
  };
  const alice = await run('per', principal('alice'));
  assert.deepEqual(alice.map((t) => t.name), ['probabilities', 'label']);
  assert.deepEqual(await run('per', principal('alice')), alice);
  assert.notDeepEqual((await run('per', principal('bob')))[0].data, alice[0].data);
  const sharedAlice = await run('shared', principal('alice'));
  assert.deepEqual(sharedAlice.map((t) => t.name), ['probabilities']);
  assert.deepEqual(await run('shared', principal('bob')), sharedAlice);
  assert.deepEqual(await run('shared'), sharedAlice);
});

test('one audit note per request, however many SSE events pass', async () => {
  const config = load(`
defenses:
  policies:
    round: { llm: { logprobs: round } }
models:
  - { name: round, upstream: llm, defense: round }
`);
  const stage = (await createDefendStage(config, services()))!;
  const c = ctx(config, 'round', 'chat');
  let notes = 0;
  for (let i = 0; i < 3; i++) {
    const res = ADAPTERS.openai.parseEvent(
      { choices: [{ index: 0, delta: { content: 'x' }, logprobs: { content: [{ token: 'x', logprob: -0.123, top_logprobs: [] }] } }] },
      c.request!,
    );
    const d = await stage.response!(c, res);
    notes += d?.notes?.length ?? 0;
    if (d?.notes) assert.equal(d.notes[0].kind, 'output-defended');
    assert.equal(JSON.parse(ADAPTERS.openai.serializeResponse(res)).choices[0].logprobs.content[0].logprob, -0.1);
  }
  assert.equal(notes, 1);
});

test('a request over the policy is noted as output-policy-exceeded, refused or clamped', async () => {
  const config = load(`
defenses:
  policies:
    refuse: { llm: { maxN: 1 } }
    clamp: { llm: { maxN: 1, onExceed: clamp } }
models:
  - { name: refuse, upstream: llm, defense: refuse }
  - { name: clamp, upstream: llm, defense: clamp }
`);
  const stage = (await createDefendStage(config, services()))!;
  const refused = ctx(config, 'refuse', 'chat');
  refused.request!.params.n = 3;
  const d = await stage.request!(refused);
  assert.equal(d.allow, false);
  assert.equal(d.notes![0].kind, 'output-policy-exceeded');
  const clamped = ctx(config, 'clamp', 'chat');
  clamped.request!.params.n = 3;
  clamped.request!.body = { model: 'clamp', messages: [], n: 3 };
  const c = await stage.request!(clamped);
  assert.equal(c.allow, true);
  assert.equal(c.notes![0].kind, 'output-policy-exceeded');
  assert.equal((clamped.request!.body as { n: number }).n, 1);
  assert.equal(await createDefendStage(load('models: [{ name: none, upstream: llm }]'), services()), undefined);
});
