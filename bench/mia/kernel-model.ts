/**
 * The target of the membership-inference evaluation: a Gaussian-kernel (Parzen window)
 * classifier whose centres are its training images. It is the textbook overfit model:
 * 100% training accuracy, each member answered with near certainty because its own centre
 * dominates, while a non-member is answered by its neighbours. It generalises like a
 * nearest-neighbour classifier (about 91% on MNIST with 2,000 centres).
 *
 *   logits_c(x) = log sum_{j : y_j = c} exp(-|x - x_j|^2 / (2 w^2)),  probabilities = softmax(logits)
 *
 * Written as an ONNX graph (input `input` [N, 784]; outputs `probabilities` and `logits`
 * [N, 10], like the demo MNIST model), so the demo model server serves it unchanged.
 */
import type { MnistSet } from '../../src/demo/mnist-data.js';
import { attr, OnnxModelBuilder } from '../../src/ml/onnx-builder.js';

const PIXELS = 784;
const CLASSES = 10;
// exp() of a class with no centre near x underflows to 0 in float32; the floor keeps its
// logit finite (JSON has no -Infinity) and its probability 0 in float32.
const FLOOR = 1e-30;

/** The ONNX bytes of the kernel classifier over `centres` with kernel width `width` (pixels in [0, 1]). */
export function kernelClassifierOnnx(centres: MnistSet, width: number): Uint8Array {
  const m = centres.n;
  const b = new OnnxModelBuilder({ graphName: 'kernel_classifier', docString: `Gaussian-kernel classifier over ${m} MNIST images (membership-inference target)` });
  const x = b.addInput('input', 'float', ['N', PIXELS]);
  const ct = new Float32Array(PIXELS * m);
  const norms = new Float32Array(m);
  const onehot = new Float32Array(m * CLASSES);
  for (let j = 0; j < m; j++) {
    let s = 0;
    for (let p = 0; p < PIXELS; p++) {
      const v = centres.x[j * PIXELS + p];
      ct[p * m + j] = v;
      s += v * v;
    }
    norms[j] = s;
    onehot[j * CLASSES + centres.y[j]] = 1;
  }
  const cT = b.addInitializer('centres_t', 'float', [PIXELS, m], ct);
  const cNorm = b.addInitializer('centre_norms', 'float', [1, m], norms);
  const classOf = b.addInitializer('centre_classes', 'float', [m, CLASSES], onehot);
  const minusTwo = b.addInitializer('minus_two', 'float', [], [-2]);
  const scale = b.addInitializer('neg_inv_2w2', 'float', [], [-1 / (2 * width * width)]);
  const floor = b.addInitializer('floor', 'float', [], [FLOOR]);
  const zero = b.addInitializer('zero', 'float', [], [0]);

  // |x - c|^2 = |x|^2 - 2 x.c + |c|^2, clamped at 0 (float32 rounding of a member's own distance).
  const xNorm = b.op('ReduceSumSquare', [x], { axes: attr.ints([1]), keepdims: 1 });
  const cross = b.op('Mul', [b.op('MatMul', [x, cT]), minusTwo]);
  const d2 = b.op('Max', [b.op('Add', [b.op('Add', [xNorm, cross]), cNorm]), zero]);
  const s = b.op('Mul', [d2, scale]);
  const sMax = b.op('ReduceMax', [s], { axes: attr.ints([1]), keepdims: 1 });
  const perClass = b.op('MatMul', [b.op('Exp', [b.op('Sub', [s, sMax])]), classOf]);
  const logits = b.op('Add', [b.op('Log', [b.op('Max', [perClass, floor])]), sMax], {}, { output: 'logits' });
  b.op('Softmax', [logits], { axis: -1 }, { output: 'probabilities' });
  b.addOutput('probabilities', 'float', ['N', CLASSES]);
  b.addOutput('logits', 'float', ['N', CLASSES]);
  b.setMetadata('palisade.bench', 'mia-target');
  return b.toBytes();
}
