/**
 * Classifier output policies end to end: a real gateway in front of the demo KServe / TF
 * Serving server (a separate process running the demo MNIST model on onnxruntime), with
 * real MNIST images.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { argmax } from '../../src/defend/classifier.js';
import { loadMnist } from '../../src/demo/mnist-data.js';
import { postJson, startGateway, type TestGateway } from '../helpers/gateway.js';
import { spawnServer, type SpawnedServer } from '../helpers/spawn.js';

let server: SpawnedServer;
let gw: TestGateway;

const MODEL = 'models/demo-mnist/model.onnx';
const N = 16;

before(async () => {
  server = await spawnServer('src/demo/kserve-server.ts', ['--model', `mnist=${MODEL}`]);
  gw = await startGateway(`
upstreams:
  kserve: { protocol: kserve-v2, url: "${server.url}" }
  tf: { protocol: tfserving, url: "${server.url}" }
defenses:
  noiseKey: "${'k'.repeat(32)}"
  policies:
    noise: { classifier: { outputs: [{ name: probabilities }], noise: { scale: 0.1 } } }
    topk: { classifier: { outputs: [{ name: probabilities }], topK: 3, decimals: 2 } }
    label: { classifier: { outputs: [{ name: probabilities }], labelOnly: true } }
    logits: { classifier: { outputs: [{ name: logits, kind: logits }], decimals: 3 } }
    shadow: { mode: shadow, classifier: { outputs: [{ name: probabilities }], labelOnly: true } }
    wrong-kind: { classifier: { outputs: [{ name: logits, kind: probabilities }] } }
    tf-topk: { classifier: { outputs: [{ name: predictions }], topK: 2 } }
models:
  - { name: mnist-open, upstream: kserve, upstreamModel: mnist }
  - { name: mnist-noise, upstream: kserve, upstreamModel: mnist, defense: noise }
  - { name: mnist-topk, upstream: kserve, upstreamModel: mnist, defense: topk }
  - { name: mnist-label, upstream: kserve, upstreamModel: mnist, defense: label }
  - { name: mnist-logits, upstream: kserve, upstreamModel: mnist, defense: logits }
  - { name: mnist-shadow, upstream: kserve, upstreamModel: mnist, defense: shadow }
  - { name: mnist-wrong-kind, upstream: kserve, upstreamModel: mnist, defense: wrong-kind }
  - { name: tf-open, upstream: tf, upstreamModel: mnist }
  - { name: tf-topk, upstream: tf, upstreamModel: mnist, defense: tf-topk }
`);
});

after(async () => {
  await gw?.stop();
  await server?.stop();
});

const images = () => {
  const t = loadMnist().test;
  return Array.from({ length: N }, (_, i) => Array.from(t.x.subarray(i * 784, (i + 1) * 784)));
};

async function infer(model: string, rows: number[][]): Promise<{ status: number; outputs: Record<string, number[][]>; json: any }> {
  const r = await postJson(`${gw.url}/v2/models/${model}/infer`, {
    inputs: [{ name: 'input', shape: [rows.length, 784], datatype: 'FP32', data: rows.flat() }],
  });
  const outputs: Record<string, number[][]> = {};
  for (const o of r.json?.outputs ?? []) {
    const c = o.shape[1];
    outputs[o.name] = Array.from({ length: o.shape[0] }, (_, i) => o.data.slice(i * c, (i + 1) * c));
  }
  return { status: r.status, outputs, json: r.json };
}

test('every policy keeps the top-1 label, and an output the policy does not name is removed', async () => {
  const x = images();
  const open = await infer('mnist-open', x);
  assert.deepEqual(Object.keys(open.outputs).sort(), ['logits', 'probabilities']);
  const labels = open.outputs.probabilities.map(argmax);
  for (const model of ['mnist-noise', 'mnist-topk', 'mnist-label']) {
    const r = await infer(model, x);
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.outputs), ['probabilities'], model);
    assert.deepEqual(r.outputs.probabilities.map(argmax), labels, model);
    assert.notDeepEqual(r.outputs.probabilities, open.outputs.probabilities, model);
  }
  const lg = await infer('mnist-logits', x);
  assert.deepEqual(Object.keys(lg.outputs), ['logits']);
  assert.deepEqual(lg.outputs.logits.map(argmax), labels);
  for (const row of lg.outputs.logits) {
    // Released as probabilities, rounded to 3 decimals.
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 0.01);
    for (const v of row) assert.equal(v, Math.round(v * 1000) / 1000);
  }
});

test('top-k and rounding, label-only: the shapes of what is left', async () => {
  const x = images();
  for (const row of (await infer('mnist-topk', x)).outputs.probabilities) {
    assert.ok(row.filter((v) => v !== 0).length <= 3);
    for (const v of row) assert.equal(v, Math.round(v * 100) / 100);
  }
  for (const row of (await infer('mnist-label', x)).outputs.probabilities) {
    assert.deepEqual([...row].sort(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  }
});

test('noise is the same for the same input, alone or in any batch, so averaging repeats gains nothing', async () => {
  const x = images();
  const first = (await infer('mnist-noise', x)).outputs.probabilities;
  for (let i = 0; i < 5; i++) assert.deepEqual((await infer('mnist-noise', x)).outputs.probabilities, first);
  const reversed = (await infer('mnist-noise', [...x].reverse())).outputs.probabilities.reverse();
  assert.deepEqual(reversed, first);
  const alone = (await infer('mnist-noise', [x[3]])).outputs.probabilities[0];
  assert.deepEqual(alone, first[3]);
  // Different images get different noise: not one fixed offset.
  const open = (await infer('mnist-open', x)).outputs.probabilities;
  const shifts = first.map((row, i) => row[argmax(row)] - open[i][argmax(row)]);
  assert.ok(new Set(shifts.map((s) => s.toFixed(6))).size > N / 2);
});

test('shadow changes nothing', async () => {
  const x = images();
  assert.deepEqual((await infer('mnist-shadow', x)).outputs, (await infer('mnist-open', x)).outputs);
});

test('an output that is not what the policy says it is fails closed: 502', async () => {
  const r = await infer('mnist-wrong-kind', images());
  assert.equal(r.status, 502);
  assert.equal(r.json.error.code, 'PALISADE_UPSTREAM_BAD_RESPONSE');
});

test('TF Serving predictions: top-k keeps the label', async () => {
  const x = images();
  const open = await postJson(`${gw.url}/v1/models/tf-open:predict`, { instances: x });
  const r = await postJson(`${gw.url}/v1/models/tf-topk:predict`, { instances: x });
  assert.equal(r.status, 200);
  assert.equal(r.json.predictions.length, N);
  assert.deepEqual(r.json.predictions.map(argmax), open.json.predictions.map(argmax));
  for (const row of r.json.predictions) assert.equal(row.filter((v: number) => v !== 0).length, 2);
});
