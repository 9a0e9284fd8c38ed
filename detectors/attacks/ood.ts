/**
 * Out-of-distribution inputs for a 28 x 28 digit classifier: things a client may send
 * that are not digits as the model knows them. A tensor detector should flag them: the
 * classifier answers every input with a confident-looking class, whatever it is.
 */
import { Rng } from '../../src/ml/rng.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** `n` images of independent uniform [0, 1) pixels. */
export function uniformNoise(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * PIXELS);
  for (let i = 0; i < out.length; i++) out[i] = rng.float();
  return out;
}

/** `n` images of Gaussian pixels N(mean, std), clipped to [0, 1]. Defaults: mean 0.2, std 0.3 (sparse-ish, digit-like ink level). */
export function gaussianNoise(n: number, seed: number, mean = 0.2, std = 0.3): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * PIXELS);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, rng.normal(mean, std)));
  return out;
}

/** Each image's photographic negative, 1 - x: white background, black ink. */
export function inverted(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 1 - x[i];
  return out;
}

/**
 * Each image translated by a random whole number of pixels in each direction, at least
 * `minShift` away from the centre on one axis and at most `maxShift` on each (filled with
 * background). The demo model was trained with shifts of up to 1 pixel; shifts of 5 and
 * more move the digit towards a border where no training digit ever had ink.
 */
export function shifted(x: Float32Array, n: number, seed: number, minShift = 5, maxShift = 8): Float32Array {
  if (x.length !== n * PIXELS) throw new RangeError(`shifted: x has ${x.length} values, expected ${n} x ${PIXELS}`);
  const rng = new Rng(seed);
  const out = new Float32Array(x.length);
  const pick = () => (rng.float() < 0.5 ? -1 : 1) * (minShift + rng.int(maxShift - minShift + 1));
  for (let i = 0; i < n; i++) {
    let dx: number;
    let dy: number;
    if (rng.float() < 0.5) {
      dx = pick();
      dy = rng.int(2 * maxShift + 1) - maxShift;
    } else {
      dy = pick();
      dx = rng.int(2 * maxShift + 1) - maxShift;
    }
    const src = x.subarray(i * PIXELS, (i + 1) * PIXELS);
    const dst = out.subarray(i * PIXELS, (i + 1) * PIXELS);
    for (let r = 0; r < SIDE; r++) {
      const sr = r - dy;
      if (sr < 0 || sr >= SIDE) continue;
      for (let c = 0; c < SIDE; c++) {
        const sc = c - dx;
        if (sc >= 0 && sc < SIDE) dst[r * SIDE + c] = src[sr * SIDE + sc];
      }
    }
  }
  return out;
}
