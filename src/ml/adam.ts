import type { Mlp, MlpGradients } from './mlp.js';

/** Options for {@link Adam}. */
export interface AdamOptions {
  /** Step size. Default 1e-3. */
  lr?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /**
   * Decoupled weight decay (AdamW): each step multiplies weights (not biases) by
   * (1 - lr * weightDecay). Default 0, which is what an overfit model wants.
   */
  weightDecay?: number;
}

/**
 * Adam (with optional decoupled weight decay) over an {@link Mlp}'s parameters, updated
 * in place.
 *
 * @example
 * const opt = new Adam(mlp, { lr: 1e-3, weightDecay: 1e-4 });
 * const { grads } = mlp.lossAndGradients(x, n, y);
 * opt.step(grads!);
 */
export class Adam {
  /** Can be changed between steps (learning-rate schedules). */
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t = 0;
  private readonly mW: Float32Array[];
  private readonly vW: Float32Array[];
  private readonly mB: Float32Array[];
  private readonly vB: Float32Array[];

  constructor(
    private readonly mlp: Mlp,
    options: AdamOptions = {},
  ) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [name, v] of Object.entries({ lr: this.lr, eps: this.eps, weightDecay: this.weightDecay })) {
      if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`Adam: ${name} must be a finite number >= 0`);
    }
    if (!(this.beta1 >= 0 && this.beta1 < 1 && this.beta2 >= 0 && this.beta2 < 1)) throw new RangeError('Adam: betas must be in [0, 1)');
    this.mW = mlp.weights.map((w) => new Float32Array(w.length));
    this.vW = mlp.weights.map((w) => new Float32Array(w.length));
    this.mB = mlp.biases.map((b) => new Float32Array(b.length));
    this.vB = mlp.biases.map((b) => new Float32Array(b.length));
  }

  /** Number of steps taken. */
  get steps(): number {
    return this.t;
  }

  /** One update from gradients shaped like the network's parameters. */
  step(grads: MlpGradients): void {
    this.t++;
    const c1 = 1 - Math.pow(this.beta1, this.t);
    const c2 = 1 - Math.pow(this.beta2, this.t);
    // Bias correction folded into the step size, as in the Adam paper's efficient form.
    const stepSize = (this.lr * Math.sqrt(c2)) / c1;
    const epsHat = this.eps * Math.sqrt(c2);
    const decay = 1 - this.lr * this.weightDecay;
    for (let l = 0; l < this.mlp.layerCount; l++) {
      update(this.mlp.weights[l], grads.weights[l], this.mW[l], this.vW[l], this.beta1, this.beta2, stepSize, epsHat, decay);
      update(this.mlp.biases[l], grads.biases[l], this.mB[l], this.vB[l], this.beta1, this.beta2, stepSize, epsHat, 1);
    }
  }
}

function update(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  b1: number,
  b2: number,
  stepSize: number,
  epsHat: number,
  decay: number,
): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) + epsHat);
  }
}
