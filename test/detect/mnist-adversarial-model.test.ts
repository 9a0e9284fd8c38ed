import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { Mlp } from '../../src/ml/mlp.js';
import { AdversarialDetector, HEAD_INPUT, ONNX_INPUT, ONNX_OUTPUT, PIXELS } from '../../detectors/mnist-adversarial/model.js';

describe('mnist-adversarial graph', () => {
  it('scores in onnxruntime as the TypeScript detector does (pixels, squeezing, confidence, head)', async () => {
    const detector = new AdversarialDetector(loadDemoMnistMlp(), Mlp.create({ sizes: [HEAD_INPUT, 16, 1], head: 'sigmoid', seed: 3 }));
    const digits = takeSubset(loadMnist().test, 6, 1);
    // Real digits, and rows with values around the squeezing threshold and out of range.
    const x = new Float32Array(8 * PIXELS);
    x.set(digits.x);
    for (let i = 0; i < PIXELS; i++) {
      x[6 * PIXELS + i] = 0.5 + ((i % 3) - 1) * 1e-3;
      x[7 * PIXELS + i] = (i % 7) - 3;
    }
    const session = await ort.InferenceSession.create(detector.toOnnx());
    try {
      assert.deepEqual(session.inputNames, [ONNX_INPUT]);
      assert.deepEqual(session.outputNames, [ONNX_OUTPUT]);
      const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', x, [8, PIXELS]) });
      assert.deepEqual(out[ONNX_OUTPUT].dims, [8, 1]);
      const want = detector.score(x, 8);
      const got = out[ONNX_OUTPUT].data as Float32Array;
      for (let i = 0; i < 8; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, `row ${i}: onnx ${got[i]} vs ts ${want[i]}`);
    } finally {
      await session.release();
    }
  });
});
