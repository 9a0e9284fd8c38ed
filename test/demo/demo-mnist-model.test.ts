import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { DEMO_MNIST_DIR, DEMO_MNIST_ONNX, loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist } from '../../src/demo/mnist-data.js';
import { argmaxRows } from '../../src/ml/linalg.js';
import { accuracy } from '../../src/ml/metrics.js';

describe('committed demo MNIST model', () => {
  it('classifies the 2,000 held-out digits with >= 95% accuracy through onnxruntime', async () => {
    const { test } = loadMnist();
    const session = await ort.InferenceSession.create(DEMO_MNIST_ONNX);
    try {
      assert.deepEqual(session.inputNames, ['input']);
      assert.deepEqual(session.outputNames, ['probabilities', 'logits']);
      const out = await session.run({ input: new ort.Tensor('float32', test.x, [test.n, 784]) });
      assert.deepEqual(out.probabilities.dims, [test.n, 10]);
      const acc = accuracy(argmaxRows(out.probabilities.data as Float32Array, test.n, 10), test.y);
      assert.ok(acc >= 0.95, `test accuracy ${acc}`);
    } finally {
      await session.release();
    }
  });

  it('weights.json computes the same logits as model.onnx', async () => {
    const { test } = loadMnist();
    const n = 200;
    const x = test.x.subarray(0, n * 784);
    const mlp = loadDemoMnistMlp();
    assert.deepEqual(mlp.sizes, [784, 128, 10]);
    const session = await ort.InferenceSession.create(DEMO_MNIST_ONNX);
    try {
      const out = await session.run({ input: new ort.Tensor('float32', x, [n, 784]) });
      const ours = mlp.forward(x, n);
      const theirs = out.logits.data as Float32Array;
      for (let i = 0; i < ours.length; i++) assert.ok(Math.abs(ours[i] - theirs[i]) < 1e-4, `logit ${i}: ${ours[i]} vs ${theirs[i]}`);
    } finally {
      await session.release();
    }
  });

  it('training.json records the sha256 of the committed model files', () => {
    const training = JSON.parse(readFileSync(`${DEMO_MNIST_DIR}training.json`, 'utf8'));
    for (const file of ['model.onnx', 'weights.json']) {
      const digest = createHash('sha256').update(readFileSync(`${DEMO_MNIST_DIR}${file}`)).digest('hex');
      assert.equal(digest, training.sha256[file], `${file} was changed without retraining`);
    }
    assert.ok(training.metrics.testAccuracy >= 0.95);
  });
});
