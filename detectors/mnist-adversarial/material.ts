/**
 * The data of the mnist-adversarial detector: which digits train it, which calibrate its
 * threshold and which evaluate it, and the attacks made from each. Everything is drawn
 * from seeded generators, so the same code gives the same material on any machine.
 *
 * - Training: the demo model's 8,000 training digits, clean (and shifted by one pixel:
 *   the demo model is trained on such shifts, they are benign), against FGSM and PGD at
 *   every epsilon of {@link EPSILONS}, DeepFool, uniform noise, inverted and shifted digits.
 * - Calibration: 1,000 of the 2,000 test digits, clean: the threshold is set on them.
 * - Evaluation: the other 1,000 test digits, clean, and every attack of
 *   {@link evaluationSuite} made from 500 of them. Carlini-Wagner L2, SimBA (black-box)
 *   and Gaussian noise are families the detector never saw in training.
 */
import type { Mlp } from '../../src/ml/mlp.js';
import { Rng } from '../../src/ml/rng.js';
import { loadMnist, randomShift, selectRows, type MnistSet } from '../../src/demo/mnist-data.js';
import { simba } from '../attacks/black-box.js';
import { mlpOracle } from '../attacks/oracle.js';
import { gaussianNoise, inverted, shifted, uniformNoise } from '../attacks/ood.js';
import { carliniWagnerL2, deepFool, fgsm, pgd } from '../attacks/white-box.js';
import { PIXELS } from './model.js';

/** The L-infinity budgets of FGSM and PGD, in training and evaluation. */
export const EPSILONS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3] as const;
/** Seed of every split and attack of this detector. */
export const MATERIAL_SEED = 6;

/** The digits of each role. */
export interface DigitSplits {
  train: MnistSet;
  calibration: MnistSet;
  evaluation: MnistSet;
}

/** Splits the demo MNIST data into the detector's training, calibration and evaluation digits. */
export function digitSplits(): DigitSplits {
  const { train, test } = loadMnist();
  const order = new Rng(MATERIAL_SEED).permutation(test.n);
  const half = test.n / 2;
  return {
    train,
    calibration: selectRows(test, order.subarray(0, half)),
    evaluation: selectRows(test, order.subarray(half)),
  };
}

/** A labelled training set: rows [n, 784], 1 for attack or out-of-distribution, 0 for clean. */
export interface TrainingMaterial {
  x: Float32Array;
  y: Float32Array;
  n: number;
  /** Rows per source, for the model card. */
  composition: Record<string, number>;
}

/** Sizes of the training material (rows). */
const TRAIN = { shiftedClean: 4000, perEpsilon: 300, deepFool: 600, uniform: 300, inverted: 300, shifted: 600 } as const;

/** Builds the training material from the demo model's training digits. Takes a few minutes. */
export function trainingMaterial(mlp: Mlp, train: MnistSet, log: (line: string) => void = () => {}): TrainingMaterial {
  const rng = new Rng(MATERIAL_SEED + 1);
  const order = rng.permutation(train.n);
  let next = 0;
  const take = (count: number): MnistSet => selectRows(train, order.subarray(next, (next += count)));
  const parts: { name: string; x: Float32Array; label: 0 | 1 }[] = [];
  const add = (name: string, x: Float32Array, label: 0 | 1) => {
    parts.push({ name, x, label });
    log(`material: ${name} (${x.length / PIXELS} rows)`);
  };

  add('clean', train.x, 0);
  const shiftedClean = selectRows(train, rng.permutation(train.n).subarray(0, TRAIN.shiftedClean));
  randomShift(1)(shiftedClean.x, shiftedClean.n, rng.fork());
  add('clean shifted by up to 1px', shiftedClean.x, 0);
  for (const eps of EPSILONS) {
    const a = take(TRAIN.perEpsilon);
    add(`fgsm eps ${eps}`, fgsm(mlp, a.x, a.n, a.y, eps), 1);
    const b = take(TRAIN.perEpsilon);
    add(`pgd eps ${eps}`, pgd(mlp, b.x, b.n, b.y, { eps, steps: 10, seed: rng.nextUint32() }), 1);
  }
  const df = take(TRAIN.deepFool);
  add('deepfool', deepFool(mlp, df.x, df.n), 1);
  add('uniform noise', uniformNoise(TRAIN.uniform, rng.nextUint32()), 1);
  add('inverted', inverted(take(TRAIN.inverted).x), 1);
  const sh = take(TRAIN.shifted);
  add('shifted 5-8px', shifted(sh.x, sh.n, rng.nextUint32()), 1);

  const n = parts.reduce((s, p) => s + p.x.length / PIXELS, 0);
  const x = new Float32Array(n * PIXELS);
  const y = new Float32Array(n);
  const composition: Record<string, number> = {};
  let row = 0;
  for (const p of parts) {
    const rows = p.x.length / PIXELS;
    x.set(p.x, row * PIXELS);
    y.fill(p.label, row, row + rows);
    composition[p.name] = rows;
    row += rows;
  }
  return { x, y, n, composition };
}

/** One attack of the evaluation: its inputs and whether its family was in training. */
export interface EvaluationAttack {
  /** e.g. `fgsm`, `pgd`, `cw-l2`. */
  attack: string;
  family: 'l-inf gradient' | 'l2 gradient' | 'black-box query' | 'out-of-distribution';
  eps?: number;
  /** True when no example of this family was in the training material. */
  heldOutFamily: boolean;
  x: Float32Array;
  n: number;
  /** Share of inputs the demo model now misclassifies (attacks only; undefined for OOD inputs). */
  success?: number;
}

/** Rows of the evaluation digits each attack starts from. */
export const EVAL_ATTACK_ROWS = 500;

/**
 * Makes every evaluation attack from the first {@link EVAL_ATTACK_ROWS} evaluation digits.
 * Takes several minutes (PGD and Carlini-Wagner dominate).
 */
export function evaluationSuite(mlp: Mlp, evaluation: MnistSet, log: (line: string) => void = () => {}): EvaluationAttack[] {
  const rng = new Rng(MATERIAL_SEED + 2);
  const src = selectRows(evaluation, Array.from({ length: EVAL_ATTACK_ROWS }, (_, i) => i));
  const n = src.n;
  const out: EvaluationAttack[] = [];
  const success = (x: Float32Array) => {
    const pred = mlp.predictClass(x, n);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (pred[i] !== src.y[i]) wrong++;
    return wrong / n;
  };
  const add = (a: Omit<EvaluationAttack, 'n' | 'success'>, isAttack = true) => {
    const e: EvaluationAttack = { ...a, n: a.x.length / PIXELS, success: isAttack ? success(a.x) : undefined };
    out.push(e);
    log(`evaluation: ${a.attack}${a.eps !== undefined ? ` eps ${a.eps}` : ''} (${e.n} rows${e.success !== undefined ? `, ${(e.success * 100).toFixed(1)}% misclassified` : ''})`);
  };
  for (const eps of EPSILONS) {
    add({ attack: 'fgsm', family: 'l-inf gradient', eps, heldOutFamily: false, x: fgsm(mlp, src.x, n, src.y, eps) });
    add({ attack: 'pgd', family: 'l-inf gradient', eps, heldOutFamily: false, x: pgd(mlp, src.x, n, src.y, { eps, steps: 20, seed: rng.nextUint32() }) });
  }
  add({ attack: 'deepfool', family: 'l2 gradient', heldOutFamily: false, x: deepFool(mlp, src.x, n) });
  add({ attack: 'cw-l2', family: 'l2 gradient', heldOutFamily: true, x: carliniWagnerL2(mlp, src.x, n, src.y) });
  add({ attack: 'simba-dct', family: 'black-box query', heldOutFamily: true, x: simba(mlpOracle(mlp), src.x, n, src.y, { seed: rng.nextUint32() }).x });
  add({ attack: 'uniform-noise', family: 'out-of-distribution', heldOutFamily: false, x: uniformNoise(n, rng.nextUint32()) }, false);
  add({ attack: 'gaussian-noise', family: 'out-of-distribution', heldOutFamily: true, x: gaussianNoise(n, rng.nextUint32()) }, false);
  add({ attack: 'inverted', family: 'out-of-distribution', heldOutFamily: false, x: inverted(src.x) }, false);
  add({ attack: 'shifted', family: 'out-of-distribution', heldOutFamily: false, x: shifted(src.x, n, rng.nextUint32()) }, false);
  return out;
}
