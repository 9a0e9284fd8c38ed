/**
 * KServe v2, TF Serving and raw routes end to end, in front of the demo model server
 * (a real MNIST classifier on onnxruntime) running as its own process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let ks: SpawnedServer;
let gw: TestGateway;
const digit = JSON.parse(readFileSync(new URL('../../config/demo/digit.json', import.meta.url), 'utf8'));
const pixels: number[] = digit.inputs[0].data;

before(async () => {
  ks = await spawnServer('src/demo/kserve-server.ts');
  gw = await startGateway(`
upstreams:
  ks: { protocol: kserve-v2, url: "${ks.url}" }
  tf: { protocol: tfserving, url: "${ks.url}" }
  passthrough: { protocol: raw, url: "${ks.url}" }
models:
  - { name: mnist, upstream: ks }
  - { name: digits, upstream: ks, upstreamModel: mnist }
  - { name: mnist-tf, upstream: tf, upstreamModel: mnist }
  - { name: legacy, upstream: passthrough, pathPrefix: /legacy }
`);
});
after(async () => {
  await gw?.stop();
  await ks?.stop();
});

const argmax = (a: number[]) => a.indexOf(Math.max(...a));
const stats = async () => ((await fetch(`${ks.url}/__stats`)).json()) as Promise<{ requests: number; byPath: Record<string, number> }>;

test('KServe v2 infer through the gateway classifies a real digit', async () => {
  const r = await postJson(`${gw.url}/v2/models/mnist/infer`, digit);
  assert.equal(r.status, 200, r.text);
  const probs = r.json.outputs.find((o: { name: string }) => o.name === 'probabilities');
  assert.deepEqual(probs.shape, [1, 10]);
  assert.equal(argmax(probs.data), 0);
});

test('a renamed model and a versioned path reach the upstream under its own name', async () => {
  const r = await postJson(`${gw.url}/v2/models/digits/versions/1/infer`, digit);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.model_name, 'mnist');
});

test('KServe metadata and ready are proxied', async () => {
  const meta = await fetch(`${gw.url}/v2/models/mnist`);
  assert.equal(meta.status, 200);
  assert.equal(((await meta.json()) as { name: string }).name, 'mnist');
  assert.equal((await fetch(`${gw.url}/v2/models/mnist/ready`)).status, 200);
});

test('TF Serving predict (row format) and model status', async () => {
  const r = await postJson(`${gw.url}/v1/models/mnist-tf:predict`, { instances: [pixels, pixels] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.predictions.length, 2);
  assert.equal(argmax(r.json.predictions[0]), 0);
  const s = await fetch(`${gw.url}/v1/models/mnist-tf`);
  assert.equal(s.status, 200);
});

test('malformed tensors are refused before the upstream', async () => {
  const before = (await stats()).requests;
  const bad = await postJson(`${gw.url}/v2/models/mnist/infer`, { inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: [1, 2, 3] }] });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'PALISADE_BAD_REQUEST');
  const nan = await postJson(`${gw.url}/v1/models/mnist-tf:predict`, { instances: [['a']] });
  assert.equal(nan.status, 400);
  const mismatch = await postJson(`${gw.url}/v1/models/mnist-tf:predict`, { model_spec: { name: 'other' }, instances: [pixels] });
  assert.equal(mismatch.json.error.code, 'PALISADE_MODEL_MISMATCH');
  assert.equal((await stats()).requests, before);
});

test('raw routes forward unchanged under their prefix, and nothing outside it', async () => {
  const r = await fetch(`${gw.url}/legacy/v2/health/ready`);
  assert.equal(r.status, 200);
  const before = (await stats()).requests;
  for (const p of ['/legacy/../v2/health/ready', '/legacy/%2e%2e/x', '/legacyX/v2/health/ready', '/legacy//v2']) {
    const x = await fetch(`${gw.url}${p}`);
    assert.equal(x.status, 404, p);
  }
  assert.equal((await stats()).requests, before);
});
