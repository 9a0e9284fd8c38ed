import { affineForward, affineInputGrad, affineParamGrad, argmaxRows, sigmoidAll, softmaxRows } from './linalg.js';
import { sigmoidBinaryCrossEntropy, softmaxCrossEntropy, type LossResult, type Reduction } from './losses.js';
import { Rng } from './rng.js';

/**
 * The output head: `softmax` for one-of-k classification (targets are class indices),
 * `sigmoid` for binary or multi-label classification (targets are 0/1 per output).
 * The network itself always ends in linear logits; the head only decides the loss and
 * the probabilities.
 */
export type MlpHead = 'softmax' | 'sigmoid';

/** Options for {@link Mlp.create}. */
export interface MlpOptions {
  /** Layer widths from input to output, e.g. [784, 128, 10]. At least two entries. */
  sizes: number[];
  /** Default `softmax`. */
  head?: MlpHead;
  /** Seed of the weight initialisation. Default 0. */
  seed?: number;
}

/** Gradients with the same layout as the network's parameters. */
export interface MlpGradients {
  /** d loss / d W[l], each [sizes[l], sizes[l+1]] row-major. */
  weights: Float32Array[];
  /** d loss / d b[l], each [sizes[l+1]]. */
  biases: Float32Array[];
}

/**
 * What a forward pass keeps for the backward pass: the input and every layer's output
 * (post-ReLU for hidden layers, logits for the last).
 */
export interface MlpTrace {
  n: number;
  /** activations[0] is the input (not copied: do not change it before backward). */
  activations: Float32Array[];
  /** The logits, [n, outputSize] (the same array as the last activation). */
  logits: Float32Array;
}

/** Options for {@link Mlp.backward}. */
export interface BackwardOptions {
  /** Compute parameter gradients. Default true. */
  params?: boolean;
  /** Compute the gradient with respect to the input. Default false. */
  input?: boolean;
  /** Parameter gradient buffers to overwrite instead of allocating (see {@link Mlp.zeroGradients}). */
  into?: MlpGradients;
}

/** What {@link Mlp.backward} returns. */
export interface BackwardResult {
  grads?: MlpGradients;
  /** d loss / d input, [n, inputSize]. */
  inputGrad?: Float32Array;
}

/** Options for {@link Mlp.lossAndGradients}. */
export interface LossGradOptions extends BackwardOptions {
  /** Default `mean`. Use `sum` when each example's own input gradient is wanted. */
  reduction?: Reduction;
}

/** What {@link Mlp.lossAndGradients} returns. */
export interface LossGradResult extends BackwardResult {
  loss: number;
  losses: Float64Array;
  logits: Float32Array;
}

/** The serialised form of an MLP (see {@link Mlp.toJSON}). */
export interface MlpJson {
  format: 'palisade.mlp';
  version: 1;
  sizes: number[];
  head: MlpHead;
  /** How each tensor is stored: little-endian float32, base64. */
  encoding: 'f32le-base64';
  layers: { weights: string; biases: string }[];
}

/**
 * A dense multi-layer perceptron: affine layers with ReLU between them and linear logits
 * at the end. Weights are row-major [in, out] so `x · W + b` is exactly ONNX MatMul + Add.
 * Batches are row-major [n, features] Float32Arrays.
 *
 * @example
 * const mlp = Mlp.create({ sizes: [784, 128, 10], seed: 1 });
 * const probs = mlp.predictProba(x, n);                        // [n, 10]
 * const { inputGrad } = mlp.lossAndGradients(x, n, labels, { input: true, params: false, reduction: 'sum' });
 */
export class Mlp {
  readonly sizes: readonly number[];
  readonly head: MlpHead;
  /** W[l] is [sizes[l], sizes[l+1]] row-major. Mutated in place by optimizers. */
  readonly weights: Float32Array[];
  /** b[l] is [sizes[l+1]]. */
  readonly biases: Float32Array[];

  constructor(sizes: readonly number[], head: MlpHead, weights: Float32Array[], biases: Float32Array[]) {
    if (sizes.length < 2) throw new RangeError('Mlp: sizes needs at least an input and an output width');
    for (const s of sizes) if (!Number.isInteger(s) || s <= 0) throw new RangeError(`Mlp: bad layer width ${s}`);
    if (head !== 'softmax' && head !== 'sigmoid') throw new RangeError(`Mlp: unknown head ${String(head)}`);
    if (weights.length !== sizes.length - 1 || biases.length !== sizes.length - 1) {
      throw new RangeError('Mlp: one weight matrix and one bias vector per layer');
    }
    for (let l = 0; l < weights.length; l++) {
      if (weights[l].length !== sizes[l] * sizes[l + 1]) throw new RangeError(`Mlp: W[${l}] has ${weights[l].length} values, expected ${sizes[l] * sizes[l + 1]}`);
      if (biases[l].length !== sizes[l + 1]) throw new RangeError(`Mlp: b[${l}] has ${biases[l].length} values, expected ${sizes[l + 1]}`);
    }
    this.sizes = Object.freeze([...sizes]);
    this.head = head;
    this.weights = weights;
    this.biases = biases;
  }

  /**
   * A new network with He-normal weights for ReLU layers, a 1/sqrt(fan-in) normal for the
   * logit layer and zero biases, drawn from `seed`.
   */
  static create(options: MlpOptions): Mlp {
    const { sizes, head = 'softmax', seed = 0 } = options;
    const rng = new Rng(seed);
    const weights: Float32Array[] = [];
    const biases: Float32Array[] = [];
    for (let l = 0; l < sizes.length - 1; l++) {
      const fanIn = sizes[l];
      const last = l === sizes.length - 2;
      const std = Math.sqrt((last ? 1 : 2) / fanIn);
      const w = new Float32Array(fanIn * sizes[l + 1]);
      for (let i = 0; i < w.length; i++) w[i] = rng.normal(0, std);
      weights.push(w);
      biases.push(new Float32Array(sizes[l + 1]));
    }
    return new Mlp(sizes, head, weights, biases);
  }

  get inputSize(): number {
    return this.sizes[0];
  }

  get outputSize(): number {
    return this.sizes[this.sizes.length - 1];
  }

  get layerCount(): number {
    return this.sizes.length - 1;
  }

  get parameterCount(): number {
    let c = 0;
    for (let l = 0; l < this.layerCount; l++) c += this.weights[l].length + this.biases[l].length;
    return c;
  }

  /** Forward pass keeping every activation, for {@link backward}. */
  trace(x: Float32Array, n: number): MlpTrace {
    this.checkInput(x, n);
    const activations: Float32Array[] = [x];
    let a = x;
    for (let l = 0; l < this.layerCount; l++) {
      const out = new Float32Array(n * this.sizes[l + 1]);
      affineForward(a, n, this.sizes[l], this.weights[l], this.sizes[l + 1], this.biases[l], out);
      if (l < this.layerCount - 1) {
        for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] = 0;
      }
      activations.push(out);
      a = out;
    }
    return { n, activations, logits: a };
  }

  /** Logits for a batch: x is [n, inputSize], the result [n, outputSize]. */
  forward(x: Float32Array, n: number): Float32Array {
    return this.trace(x, n).logits;
  }

  /** Probabilities for a batch: softmax over each row, or a sigmoid per output. */
  predictProba(x: Float32Array, n: number): Float32Array {
    const logits = this.forward(x, n);
    return this.head === 'softmax' ? softmaxRows(logits, n, this.outputSize) : sigmoidAll(logits);
  }

  /**
   * The predicted class of each row: the arg-max for softmax; for a one-output sigmoid
   * head, 1 when the logit is above 0 (probability above 0.5).
   */
  predictClass(x: Float32Array, n: number): Uint32Array {
    const logits = this.forward(x, n);
    if (this.head === 'sigmoid' && this.outputSize === 1) {
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = logits[i] > 0 ? 1 : 0;
      return out;
    }
    return argmaxRows(logits, n, this.outputSize);
  }

  /** The head's loss and its gradient with respect to the logits. */
  loss(logits: Float32Array, n: number, targets: ArrayLike<number>, reduction: Reduction = 'mean'): LossResult {
    return this.head === 'softmax'
      ? softmaxCrossEntropy(logits, n, this.outputSize, targets, reduction)
      : sigmoidBinaryCrossEntropy(logits, n, this.outputSize, targets, reduction);
  }

  /**
   * Back-propagates `dLogits` (d loss / d logits, [n, outputSize]) through a trace. Any
   * differentiable objective of the logits works, not only the built-in losses (e.g. a
   * margin loss for a targeted attack).
   */
  backward(trace: MlpTrace, dLogits: Float32Array, options: BackwardOptions = {}): BackwardResult {
    const { params = true, input = false } = options;
    const n = trace.n;
    if (dLogits.length !== n * this.outputSize) throw new RangeError('Mlp.backward: dLogits has the wrong size');
    let grads: MlpGradients | undefined;
    if (params) {
      grads = options.into ?? this.zeroGradients();
      if (options.into) {
        for (const g of grads.weights) g.fill(0);
        for (const g of grads.biases) g.fill(0);
      }
    }
    let dy = dLogits;
    let inputGrad: Float32Array | undefined;
    for (let l = this.layerCount - 1; l >= 0; l--) {
      const k = this.sizes[l];
      const m = this.sizes[l + 1];
      const a = trace.activations[l];
      if (grads) affineParamGrad(a, n, k, dy, m, grads.weights[l], grads.biases[l]);
      if (l === 0 && !input) break;
      const dx = new Float32Array(n * k);
      affineInputGrad(dy, n, m, this.weights[l], k, dx);
      if (l > 0) {
        // ReLU passes the gradient only where its output was positive.
        for (let i = 0; i < dx.length; i++) if (a[i] <= 0) dx[i] = 0;
      } else {
        inputGrad = dx;
      }
      dy = dx;
    }
    return { grads, inputGrad };
  }

  /**
   * Loss, per-example losses, logits and (by default) parameter gradients in one call;
   * `{ input: true }` adds d loss / d input for FGSM/PGD-style attacks.
   */
  lossAndGradients(x: Float32Array, n: number, targets: ArrayLike<number>, options: LossGradOptions = {}): LossGradResult {
    const trace = this.trace(x, n);
    const { loss, losses, dLogits } = this.loss(trace.logits, n, targets, options.reduction ?? 'mean');
    const { grads, inputGrad } = this.backward(trace, dLogits, options);
    return { loss, losses, logits: trace.logits, grads, inputGrad };
  }

  /** d loss(example) / d input for each example (sum reduction), without parameter gradients. */
  inputGradient(x: Float32Array, n: number, targets: ArrayLike<number>): Float32Array {
    return this.lossAndGradients(x, n, targets, { params: false, input: true, reduction: 'sum' }).inputGrad!;
  }

  /** Zero-filled buffers shaped like the parameters. */
  zeroGradients(): MlpGradients {
    return {
      weights: this.weights.map((w) => new Float32Array(w.length)),
      biases: this.biases.map((b) => new Float32Array(b.length)),
    };
  }

  /** A deep copy. */
  clone(): Mlp {
    return new Mlp(this.sizes, this.head, this.weights.map((w) => w.slice()), this.biases.map((b) => b.slice()));
  }

  /** A JSON-safe, exact (bit for bit) serialisation; see {@link Mlp.fromJSON}. */
  toJSON(): MlpJson {
    return {
      format: 'palisade.mlp',
      version: 1,
      sizes: [...this.sizes],
      head: this.head,
      encoding: 'f32le-base64',
      layers: this.weights.map((w, l) => ({ weights: encodeF32(w), biases: encodeF32(this.biases[l]) })),
    };
  }

  /** Rebuilds a network from {@link Mlp.toJSON} output (or its parsed JSON text). */
  static fromJSON(json: unknown): Mlp {
    const j = json as Partial<MlpJson> | null;
    if (!j || j.format !== 'palisade.mlp' || j.version !== 1 || j.encoding !== 'f32le-base64') {
      throw new TypeError('Mlp.fromJSON: not a palisade.mlp v1 document');
    }
    if (!Array.isArray(j.sizes) || !Array.isArray(j.layers)) throw new TypeError('Mlp.fromJSON: sizes and layers are required');
    return new Mlp(
      j.sizes,
      j.head as MlpHead,
      j.layers.map((l) => decodeF32(l.weights)),
      j.layers.map((l) => decodeF32(l.biases)),
    );
  }

  private checkInput(x: Float32Array, n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Mlp: bad batch size ${n}`);
    if (x.length !== n * this.inputSize) {
      throw new RangeError(`Mlp: input has ${x.length} values, expected ${n} x ${this.inputSize}`);
    }
  }
}

function encodeF32(values: Float32Array): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return Buffer.from(view.buffer).toString('base64');
}

function decodeF32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) throw new TypeError('Mlp.fromJSON: tensor byte length is not a multiple of 4');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
