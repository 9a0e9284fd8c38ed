/**
 * A fastText-like classifier over the `text-hashed-ngrams` featurizer: an embedding
 * table whose rows are averaged over a window's hashed n-gram ids (EmbeddingBag, mean),
 * concatenated with the window's dense statistics, then an MLP (src/ml) with a sigmoid
 * head. A text's score is the highest of its windows' scores, as at serving time, and
 * training follows that: each example trains through its highest-scoring window
 * (multiple-instance learning), so a long benign document is pushed down where it looks
 * most like an attack and an attack is pushed up where it is most visible.
 *
 * The embedding table learns with a lazy (sparse) Adam: only the rows a batch touched
 * are updated, as in fastText and torch's SparseAdam.
 */
import { Adam, Mlp, OnnxModelBuilder, appendMlp, Rng, sigmoid } from '../../src/ml/index.js';
import { DENSE, type HashedNgramsFeaturizer, type HashedNgramsItem } from '../../src/detect/featurizers/hashed-ngrams.js';

/** One training text, featurized: its windows. */
export interface FeaturizedExample {
  windows: HashedNgramsItem[];
  label: 0 | 1;
  /** Loss weight (class balance, trusted data). */
  weight: number;
}

export interface BagModelOptions {
  buckets: number;
  dim: number;
  hidden: number;
  seed: number;
  /**
   * `mean` (package 1.0.0): the mean of the window's embeddings. `mean+max` adds their
   * element-wise max (over the ids and 0), which a short attack inside a long benign
   * window still moves: the mean dilutes it, the max does not.
   */
  pooling?: 'mean' | 'mean+max';
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  embeddingLr: number;
  seed: number;
  log?: (msg: string) => void;
  /** Called before each epoch with the model as trained so far (it may change the examples' weights). */
  beforeEpoch?: (epoch: number, model: BagModel) => void;
}

export class BagModel {
  readonly emb: Float32Array;
  readonly mlp: Mlp;
  readonly dim: number;
  readonly buckets: number;
  readonly maxPool: boolean;
  /** Per pooled row and dimension, the index (into the row's ids) of the max, or -1 (0 won). */
  private argmax: Int32Array = new Int32Array(0);

  constructor(opts: BagModelOptions) {
    this.dim = opts.dim;
    this.buckets = opts.buckets;
    this.maxPool = opts.pooling === 'mean+max';
    const rng = new Rng(opts.seed);
    this.emb = new Float32Array(opts.buckets * opts.dim);
    for (let i = 0; i < this.emb.length; i++) this.emb[i] = rng.normal(0, 0.01);
    this.mlp = Mlp.create({ sizes: [this.pooledSize + DENSE, opts.hidden, 1], head: 'sigmoid', seed: opts.seed + 1 });
  }

  /** Pooled embedding width: dim (mean) or 2·dim (mean, max). */
  get pooledSize(): number {
    return this.maxPool ? 2 * this.dim : this.dim;
  }

  get inputSize(): number {
    return this.pooledSize + DENSE;
  }

  /** Mean-pooled embeddings and dense stats of windows, [n, dim + DENSE]. */
  pool(items: readonly HashedNgramsItem[], out = new Float32Array(items.length * this.inputSize)): Float32Array {
    const d = this.dim;
    const w = this.inputSize;
    const p = this.pooledSize;
    const e = this.emb;
    const mp = this.maxPool;
    if (mp && this.argmax.length < items.length * d) this.argmax = new Int32Array(items.length * d);
    const am = this.argmax;
    for (let r = 0; r < items.length; r++) {
      const { ids, dense } = items[r];
      const o = r * w;
      for (let k = 0; k < p; k++) out[o + k] = 0;
      if (mp) am.fill(-1, r * d, (r + 1) * d);
      for (let j = 0; j < ids.length; j++) {
        const eo = ids[j] * d;
        for (let k = 0; k < d; k++) {
          const v = e[eo + k];
          out[o + k] += v;
          // Max over 0 and the ids, as ScatterND(max) over a zero row computes it.
          if (mp && v > out[o + d + k]) {
            out[o + d + k] = v;
            am[r * d + k] = j;
          }
        }
      }
      const s = ids.length ? 1 / ids.length : 0;
      for (let k = 0; k < d; k++) out[o + k] *= s;
      for (let k = 0; k < DENSE; k++) out[o + p + k] = dense[k];
    }
    return out;
  }

  /** Logits of windows. */
  logits(items: readonly HashedNgramsItem[]): Float32Array {
    return this.mlp.forward(this.pool(items), items.length);
  }

  /** Score of a text: the highest window probability. */
  score(windows: readonly HashedNgramsItem[]): number {
    const l = this.logits(windows);
    let best = -Infinity;
    for (const v of l) if (v > best) best = v;
    return sigmoid(best);
  }

  /** Trains with mini-batches; deterministic for `seed`. Returns the mean loss per epoch. */
  train(data: readonly FeaturizedExample[], opts: TrainOptions): number[] {
    const rng = new Rng(opts.seed);
    const adam = new Adam(this.mlp, { lr: opts.lr, weightDecay: 1e-4 });
    const sparse = new SparseAdam(this.emb, this.dim, opts.embeddingLr);
    const losses: number[] = [];
    const w = this.inputSize;
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      opts.beforeEpoch?.(epoch, this);
      const order = rng.permutation(data.length);
      let total = 0;
      let weightSum = 0;
      for (let b = 0; b < order.length; b += opts.batchSize) {
        const batch: FeaturizedExample[] = [];
        for (let i = b; i < Math.min(order.length, b + opts.batchSize); i++) batch.push(data[order[i]]);
        // Pick each example's highest-scoring window (the one serving would judge it by).
        const chosen: HashedNgramsItem[] = batch.map((ex) => {
          if (ex.windows.length === 1) return ex.windows[0];
          const l = this.logits(ex.windows);
          let bi = 0;
          for (let i = 1; i < l.length; i++) if (l[i] > l[bi]) bi = i;
          return ex.windows[bi];
        });
        const n = batch.length;
        const x = this.pool(chosen);
        const trace = this.mlp.trace(x, n);
        const y = new Float32Array(n);
        for (let i = 0; i < n; i++) y[i] = batch[i].label;
        const { losses: ls, dLogits } = this.mlp.loss(trace.logits, n, y, 'sum');
        let bw = 0;
        for (let i = 0; i < n; i++) {
          dLogits[i] *= batch[i].weight;
          bw += batch[i].weight;
          total += ls[i] * batch[i].weight;
        }
        weightSum += bw;
        for (let i = 0; i < n; i++) dLogits[i] /= bw;
        const { grads, inputGrad } = this.mlp.backward(trace, dLogits, { input: true });
        adam.step(grads!);
        // Embedding gradient: d loss / d pooled row, spread over the row's ids (mean pooling).
        sparse.begin();
        for (let i = 0; i < n; i++) {
          const ids = chosen[i].ids;
          if (ids.length === 0) continue;
          const s = 1 / ids.length;
          for (let j = 0; j < ids.length; j++) sparse.accumulate(ids[j], inputGrad!, i * w, s);
          // Max pooling: each dimension's gradient goes to the id that won it (pool() above
          // ran on `chosen`, so argmax is this batch's).
          if (this.maxPool) {
            const d = this.dim;
            for (let k = 0; k < d; k++) {
              const j = this.argmax[i * d + k];
              if (j >= 0) sparse.accumulateOne(ids[j], k, inputGrad![i * w + d + k]);
            }
          }
        }
        sparse.step();
      }
      losses.push(total / weightSum);
      opts.log?.(`epoch ${epoch + 1}/${opts.epochs} loss ${(total / weightSum).toFixed(4)}`);
    }
    return losses;
  }

  /**
   * The ONNX graph the gateway runs: Gather over the table, ScatterND(add) per row (the
   * EmbeddingBag sum), Mul by 1/count, Concat the dense stats, the MLP, Sigmoid.
   */
  toOnnx(meta: Record<string, string> = {}): Uint8Array {
    const b = new OnnxModelBuilder({ graphName: 'prompt_injection', opset: 18, producerName: 'palisade-detectors' });
    const x = appendBagInput(b, this.emb, this.buckets, this.dim, this.maxPool);
    const logits = appendMlp(b, this.mlp, x, { prefix: 'head' });
    b.op('Sigmoid', [logits], {}, { output: 'score' });
    b.addOutput('score', 'float', ['B', 1]);
    for (const [k, v] of Object.entries(meta)) b.setMetadata(k, v);
    return b.toBytes();
  }
}

/**
 * The front of a bag graph, the inputs the text featurizer feeds (ids, segments, scale,
 * dense) through the pooled row: Gather over `table` ([buckets, width]), ScatterND(add)
 * per row, Mul by 1/count, (with `maxPool` ScatterND(max) beside it), Concat the dense
 * stats. Returns the name of the [B, pooled + DENSE] tensor a head reads.
 */
export function appendBagInput(b: OnnxModelBuilder, table: Float32Array, buckets: number, width: number, maxPool = false): string {
  const ids = b.addInput('ids', 'int32', ['N']);
  const seg = b.addInput('segments', 'int64', ['N', 1]);
  const scale = b.addInput('scale', 'float', ['B', 1]);
  const dense = b.addInput('dense', 'float', ['B', DENSE]);
  const emb = b.addInitializer('embedding', 'float', [buckets, width], table);
  const zrow = b.addInitializer('zero_row', 'float', [1, width], new Float32Array(width));
  const gathered = b.op('Gather', [emb, ids], { axis: 0 });
  // [B, width] zeros shaped by the batch: scale [B,1] * zeros [1,width].
  const zeros = b.op('Mul', [scale, zrow]);
  const sums = b.op('ScatterND', [zeros, seg, gathered], { reduction: 'add' });
  const mean = b.op('Mul', [sums, scale]);
  const pooled = maxPool ? [mean, b.op('ScatterND', [zeros, seg, gathered], { reduction: 'max' })] : [mean];
  return b.op('Concat', [...pooled, dense], { axis: 1 });
}

/** Adam over the rows of an embedding table that a step touched (lazy moments). */
class SparseAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private readonly lastStep: Int32Array;
  private readonly grad: Float32Array;
  private touched: number[] = [];
  private readonly isTouched: Uint8Array;
  private t = 0;

  constructor(
    private readonly table: Float32Array,
    private readonly dim: number,
    private readonly lr: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float32Array(table.length);
    this.v = new Float32Array(table.length);
    this.grad = new Float32Array(table.length);
    this.lastStep = new Int32Array(table.length / dim);
    this.isTouched = new Uint8Array(table.length / dim);
  }

  begin(): void {
    this.touched = [];
  }

  accumulate(row: number, src: Float32Array, srcOff: number, scale: number): void {
    const d = this.dim;
    if (!this.isTouched[row]) {
      this.isTouched[row] = 1;
      this.touched.push(row);
    }
    const o = row * d;
    for (let k = 0; k < d; k++) this.grad[o + k] += src[srcOff + k] * scale;
  }

  /** One dimension of one row (max pooling's gradient). */
  accumulateOne(row: number, k: number, g: number): void {
    if (!this.isTouched[row]) {
      this.isTouched[row] = 1;
      this.touched.push(row);
    }
    this.grad[row * this.dim + k] += g;
  }

  step(): void {
    this.t++;
    const { beta1, beta2, eps, lr, dim: d } = this;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = 1 - Math.pow(beta2, this.t);
    const stepSize = (lr * Math.sqrt(c2)) / c1;
    // Deterministic order: rows in the order first touched.
    for (const row of this.touched) {
      this.isTouched[row] = 0;
      const o = row * d;
      for (let k = 0; k < d; k++) {
        const g = this.grad[o + k];
        this.grad[o + k] = 0;
        const m = (this.m[o + k] = beta1 * this.m[o + k] + (1 - beta1) * g);
        const v = (this.v[o + k] = beta2 * this.v[o + k] + (1 - beta2) * g * g);
        this.table[o + k] -= (stepSize * m) / (Math.sqrt(v) + eps);
      }
      this.lastStep[row] = this.t;
    }
  }
}

/** Featurizes a text into its windows with the serving featurizer (the same code path). */
export function featurizeText(f: HashedNgramsFeaturizer, texts: readonly string[]): HashedNgramsItem[] {
  const stream = f.prepare(texts);
  if (stream.length === 0) return [f.featurize('')];
  return f.windows(stream).map(([s, e]) => f.featurize(stream.slice(s, e)));
}
