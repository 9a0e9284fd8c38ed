/**
 * The adversarial-input detector for the demo MNIST classifier, as one network:
 *
 *   x ──────────────────────────────────────────────┐
 *   x ─► classifier ─► p = softmax ─┬─ top-2 of p ───┤
 *   x ─► squeeze (x > 0.5) ─► classifier ─► q ─┴─ ‖p - q‖₁ ─┴─► concat ─► head MLP ─► sigmoid ─► score
 *
 * Three signals, each strong where another is weak: the pixels themselves (an L-infinity
 * attack spreads small values over the blank background that real digits never have);
 * feature squeezing (Xu et al., 2018: a perturbed input's prediction moves when its
 * pixels are squeezed to 1 bit, a real digit's does not); and the classifier's own
 * confidence (minimal attacks stop just past a decision boundary). The classifier is a
 * frozen copy of the protected model (its weights are in the detector's graph), the head
 * is trained. The same computation runs here in TypeScript (training) and in ONNX (the
 * gateway); a test holds the two equal.
 */
import { OnnxModelBuilder, appendMlp } from '../../src/ml/onnx-builder.js';
import { softmaxRows } from '../../src/ml/linalg.js';
import { Mlp } from '../../src/ml/mlp.js';

/** Pixels per image. */
export const PIXELS = 784;
/** Engineered features after the pixels: ‖p - q‖₁, then the two highest probabilities of p. */
export const EXTRA_FEATURES = 3;
/** Width of the head's input. */
export const HEAD_INPUT = PIXELS + EXTRA_FEATURES;
/** Squeezing threshold: pixels above it become 1, the others 0. */
export const SQUEEZE_AT = 0.5;
/** Graph input and output names. */
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'score';

/**
 * The head's input for a batch: each row's pixels followed by its
 * {@link EXTRA_FEATURES} features, [n, HEAD_INPUT].
 */
export function detectorFeatures(classifier: Mlp, x: Float32Array, n: number): Float32Array {
  if (x.length !== n * PIXELS) throw new RangeError(`detectorFeatures: x has ${x.length} values, expected ${n} x ${PIXELS}`);
  const k = classifier.outputSize;
  const p = classifier.predictProba(x, n);
  const squeezed = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) squeezed[i] = x[i] > SQUEEZE_AT ? 1 : 0;
  const q = softmaxRows(classifier.forward(squeezed, n), n, k);
  const out = new Float32Array(n * HEAD_INPUT);
  for (let i = 0; i < n; i++) {
    out.set(x.subarray(i * PIXELS, (i + 1) * PIXELS), i * HEAD_INPUT);
    // Float32 sums in class order, as ONNX ReduceSum does, so both sides agree closely.
    let l1 = Math.fround(0);
    let top1 = -Infinity;
    let top2 = -Infinity;
    for (let c = 0; c < k; c++) {
      const a = p[i * k + c];
      l1 = Math.fround(l1 + Math.abs(Math.fround(a - q[i * k + c])));
      if (a > top1) {
        top2 = top1;
        top1 = a;
      } else if (a > top2) top2 = a;
    }
    const o = i * HEAD_INPUT + PIXELS;
    out[o] = l1;
    out[o + 1] = top1;
    out[o + 2] = top2;
  }
  return out;
}

/** The detector: the frozen classifier copy and the trained head. */
export class AdversarialDetector {
  constructor(
    readonly classifier: Mlp,
    readonly head: Mlp,
  ) {
    if (classifier.inputSize !== PIXELS) throw new RangeError(`AdversarialDetector: the classifier reads ${classifier.inputSize} values, expected ${PIXELS}`);
    if (head.inputSize !== HEAD_INPUT || head.outputSize !== 1 || head.head !== 'sigmoid') {
      throw new RangeError(`AdversarialDetector: the head must map ${HEAD_INPUT} features to one sigmoid output`);
    }
  }

  /** Scores in [0, 1] (higher: more likely adversarial or out of distribution), one per row. */
  score(x: Float32Array, n: number): Float32Array {
    return this.head.predictProba(detectorFeatures(this.classifier, x, n), n);
  }

  /**
   * The whole detector as one ONNX graph: input `input` [N, 784] float32, output `score`
   * [N, 1] float32 in [0, 1].
   */
  toOnnx(metadata: Record<string, string> = {}): Uint8Array {
    const b = new OnnxModelBuilder({ graphName: 'mnist_adversarial', docString: 'palisade mnist-adversarial detector (see README.md beside this file)' });
    const x = b.addInput(ONNX_INPUT, 'float', ['N', PIXELS]);
    const half = b.addInitializer('squeeze_at', 'float', [], [SQUEEZE_AT]);
    const squeezed = b.op('Cast', [b.op('Greater', [x, half])], { to: 1 /* FLOAT */ });
    // One classifier pass over [x; squeezed] (2N rows), split back in halves: the
    // classifier's weights are stored once.
    const both = b.op('Concat', [x, squeezed], { axis: 0 });
    const probs = b.op('Softmax', [appendMlp(b, this.classifier, both, { prefix: 'classifier' })], { axis: -1 });
    const [p, q] = b.addNode('Split', [probs], 2, { axis: 0 });
    const axes = b.addInitializer('axes_1', 'int64', [1], [1]);
    const l1 = b.op('ReduceSum', [b.op('Abs', [b.op('Sub', [p, q])]), axes], { keepdims: 1 });
    const two = b.addInitializer('k_2', 'int64', [1], [2]);
    const [top] = b.addNode('TopK', [p, two], 2, { axis: -1, largest: 1, sorted: 1 });
    const features = b.op('Concat', [x, l1, top], { axis: 1 });
    const logit = appendMlp(b, this.head, features, { prefix: 'head' });
    b.op('Sigmoid', [logit], {}, { output: ONNX_OUTPUT });
    b.addOutput(ONNX_OUTPUT, 'float', ['N', 1]);
    for (const [key, value] of Object.entries(metadata)) b.setMetadata(key, value);
    return b.toBytes();
  }
}
