import { Adam } from './adam.js';
import type { Mlp } from './mlp.js';
import { Rng } from './rng.js';

/**
 * A labelled data set in row-major form. `y` holds one class index per row for a softmax
 * head, or `outputSize` targets in [0, 1] per row for a sigmoid head (one per row for a
 * binary classifier).
 */
export interface LabeledData {
  x: Float32Array;
  y: ArrayLike<number>;
  n: number;
}

/** Per-epoch progress passed to {@link TrainOptions.onEpoch}. */
export interface EpochInfo {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's minibatches. */
  loss: number;
  /** Learning rate used in this epoch's last step. */
  lr: number;
  /** Seconds since training began. */
  seconds: number;
}

/** Options for {@link trainMlp}. */
export interface TrainOptions {
  epochs: number;
  /** Default 64. */
  batchSize?: number;
  /** Peak learning rate. Default 1e-3. */
  lr?: number;
  /** `cosine` anneals lr to 0 over all steps; default `constant`. */
  schedule?: 'constant' | 'cosine';
  /** Decoupled weight decay (AdamW). Default 0. */
  weightDecay?: number;
  /** Seed of the minibatch order. Default 0. */
  seed?: number;
  /**
   * Changes a minibatch in place before each step (data augmentation): `x` is a private
   * copy of the batch, [n, inputSize]. Draw randomness only from `rng` to stay deterministic.
   */
  augment?: (x: Float32Array, n: number, rng: Rng) => void;
  /** Called after each epoch, e.g. to log or to evaluate on held-out data. */
  onEpoch?: (info: EpochInfo) => void;
}

/**
 * Trains `mlp` in place with Adam on shuffled minibatches. The result depends only on the
 * network's initial weights, the data and the options, so a fixed seed reproduces it exactly.
 *
 * @returns the mean training loss of each epoch.
 * @example
 * const mlp = Mlp.create({ sizes: [784, 128, 10], seed: 1 });
 * trainMlp(mlp, { x, y, n }, { epochs: 10, lr: 1e-3, seed: 1 });
 */
export function trainMlp(mlp: Mlp, data: LabeledData, options: TrainOptions): number[] {
  const { epochs, batchSize = 64, lr = 1e-3, schedule = 'constant', weightDecay = 0, seed = 0, augment, onEpoch } = options;
  const { x, y, n } = data;
  const d = mlp.inputSize;
  const yWidth = mlp.head === 'softmax' ? 1 : mlp.outputSize;
  if (x.length !== n * d) throw new RangeError(`trainMlp: x has ${x.length} values, expected ${n} x ${d}`);
  if (y.length !== n * yWidth) throw new RangeError(`trainMlp: y has ${y.length} values, expected ${n * yWidth}`);
  if (!Number.isInteger(epochs) || epochs < 0) throw new RangeError('trainMlp: epochs must be a non-negative integer');
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError('trainMlp: batchSize must be a positive integer');

  const rng = new Rng(seed);
  // A separate stream, so adding augmentation does not change the minibatch order.
  const augmentRng = rng.fork();
  const opt = new Adam(mlp, { lr, weightDecay });
  const grads = mlp.zeroGradients();
  const batchX = new Float32Array(batchSize * d);
  const batchY = new Float32Array(batchSize * yWidth);
  const stepsPerEpoch = Math.ceil(n / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const started = performance.now();
  const history: number[] = [];

  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = rng.permutation(n);
    let lossSum = 0;
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      for (let r = 0; r < b; r++) {
        const src = order[start + r];
        batchX.set(x.subarray(src * d, (src + 1) * d), r * d);
        for (let c = 0; c < yWidth; c++) batchY[r * yWidth + c] = y[src * yWidth + c];
      }
      if (schedule === 'cosine') {
        opt.lr = 0.5 * lr * (1 + Math.cos((Math.PI * opt.steps) / totalSteps));
      }
      const xb = b === batchSize ? batchX : batchX.subarray(0, b * d);
      const yb = b === batchSize ? batchY : batchY.subarray(0, b * yWidth);
      augment?.(xb, b, augmentRng);
      const result = mlp.lossAndGradients(xb, b, yb, { into: grads });
      opt.step(result.grads!);
      lossSum += result.loss;
    }
    const loss = lossSum / stepsPerEpoch;
    history.push(loss);
    onEpoch?.({ epoch, loss, lr: opt.lr, seconds: (performance.now() - started) / 1000 });
  }
  return history;
}

/** Fraction of rows whose predicted class equals the label. */
export function classificationAccuracy(mlp: Mlp, data: LabeledData): number {
  if (data.n === 0) return NaN;
  const predicted = mlp.predictClass(data.x, data.n);
  let correct = 0;
  for (let i = 0; i < data.n; i++) if (predicted[i] === data.y[i]) correct++;
  return correct / data.n;
}
