import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { Mlp } from '../../src/ml/mlp.js';
import { AdversarialDetector, HEAD_INPUT, ONNX_INPUT, ONNX_OUTPUT, PIXELS } from '../../detectors/mnist-adversarial/model.js';
import { calibrateThreshold } from '../../detectors/mnist-adversarial/evaluate.js';
import { FIGURES_END, FIGURES_START, replaceFigures } from '../../detectors/mnist-adversarial/model-card.js';

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

describe('mnist-adversarial threshold and card', () => {
  it('sets the threshold just above the scores it may flag, ties included', () => {
    const scores = [0.1, 0.2, 0.3, 0.9, 0.9, 0.95];
    // 1/6 may be flagged: only 0.95; the threshold sits just above 0.9.
    const t = calibrateThreshold(scores, 1 / 6);
    assert.ok(t > 0.9 && t <= 0.95 && t - Math.fround(0.9) < 1e-6, String(t));
    assert.equal(scores.filter((s) => s >= t).length, 1);
    // Ties at the boundary: two scores of 0.9 cannot be split, so neither is flagged.
    assert.equal(scores.filter((s) => s >= calibrateThreshold(scores, 2 / 6)).length, 1);
    assert.ok(calibrateThreshold(scores, 0) > 0.95);
  });

  it('replaces only the figures of a card', () => {
    const card = `# x\n\nprose\n\n${FIGURES_START}\nold\n${FIGURES_END}\n\nmore prose\n`;
    const next = replaceFigures(card, 'new table\n');
    assert.equal(next, `# x\n\nprose\n\n${FIGURES_START}\nnew table\n${FIGURES_END}\n\nmore prose\n`);
    assert.match(replaceFigures('# y\n', 't'), new RegExp(`${FIGURES_START.replace(/[()]/g, '\\$&')}\nt\n`));
  });
});
