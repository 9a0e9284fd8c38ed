import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Mlp } from '../ml/mlp.js';

/** Folder of the committed demo MNIST model (model.onnx, weights.json, training.json, README.md). */
export const DEMO_MNIST_DIR = fileURLToPath(new URL('../../models/demo-mnist/', import.meta.url));
/** The ONNX model: input `input` [N, 784] float32; outputs `probabilities` and `logits` [N, 10]. */
export const DEMO_MNIST_ONNX = `${DEMO_MNIST_DIR}model.onnx`;
/** The same network's weights as a palisade.mlp JSON document (see {@link Mlp.toJSON}). */
export const DEMO_MNIST_WEIGHTS = `${DEMO_MNIST_DIR}weights.json`;

/**
 * The trained demo MNIST network as an {@link Mlp}, for attacks and experiments that need
 * gradients (FGSM, PGD, loss-based membership inference) without retraining. It computes
 * the same logits as model.onnx.
 *
 * @example
 * const mlp = loadDemoMnistMlp();
 * const grad = mlp.inputGradient(x, n, labels);
 */
export function loadDemoMnistMlp(path: string = DEMO_MNIST_WEIGHTS): Mlp {
  return Mlp.fromJSON(JSON.parse(readFileSync(path, 'utf8')));
}
