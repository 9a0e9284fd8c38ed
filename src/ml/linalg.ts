/**
 * The few dense kernels an MLP needs, over row-major Float32Array matrices. They are plain
 * loops ordered so the innermost loop walks contiguous memory, and they skip zero inputs
 * (MNIST pixels and ReLU outputs are mostly zero), which is where most of the speed comes from.
 */

/**
 * out[n, m] = x[n, k] · w[k, m] + b[m]. `out` is overwritten.
 */
export function affineForward(
  x: Float32Array,
  n: number,
  k: number,
  w: Float32Array,
  m: number,
  b: Float32Array,
  out: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const o = i * m;
    for (let j = 0; j < m; j++) out[o + j] = b[j];
    const xo = i * k;
    for (let p = 0; p < k; p++) {
      const xv = x[xo + p];
      if (xv === 0) continue;
      const wo = p * m;
      for (let j = 0; j < m; j++) out[o + j] += xv * w[wo + j];
    }
  }
}

/**
 * dw[k, m] += xᵀ[k, n] · dy[n, m] and db[m] += Σ_rows dy. The caller zeroes them first
 * when it wants a fresh gradient.
 */
export function affineParamGrad(
  x: Float32Array,
  n: number,
  k: number,
  dy: Float32Array,
  m: number,
  dw: Float32Array,
  db: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const dyo = i * m;
    for (let j = 0; j < m; j++) db[j] += dy[dyo + j];
    const xo = i * k;
    for (let p = 0; p < k; p++) {
      const xv = x[xo + p];
      if (xv === 0) continue;
      const wo = p * m;
      for (let j = 0; j < m; j++) dw[wo + j] += xv * dy[dyo + j];
    }
  }
}

/**
 * dx[n, k] = dy[n, m] · wᵀ[m, k]. `dx` is overwritten.
 */
export function affineInputGrad(
  dy: Float32Array,
  n: number,
  m: number,
  w: Float32Array,
  k: number,
  dx: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    const dyo = i * m;
    const dxo = i * k;
    for (let p = 0; p < k; p++) {
      const wo = p * m;
      let s = 0;
      for (let j = 0; j < m; j++) s += dy[dyo + j] * w[wo + j];
      dx[dxo + p] = s;
    }
  }
}

/** Index of the largest value of each row of a [n, k] matrix (first one on ties). */
export function argmaxRows(values: ArrayLike<number>, n: number, k: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = values[i * k];
    for (let j = 1; j < k; j++) {
      const v = values[i * k + j];
      if (v > bestValue) {
        bestValue = v;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Row-wise softmax of a [n, k] matrix, computed stably (max subtracted). */
export function softmaxRows(logits: ArrayLike<number>, n: number, k: number): Float32Array {
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (logits[o + j] > max) max = logits[o + j];
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const e = Math.exp(logits[o + j] - max);
      out[o + j] = e;
      sum += e;
    }
    for (let j = 0; j < k; j++) out[o + j] /= sum;
  }
  return out;
}

/** Element-wise logistic sigmoid. */
export function sigmoidAll(logits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = sigmoid(logits[i]);
  return out;
}

/** The logistic sigmoid, without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}
