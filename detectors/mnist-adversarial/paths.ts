/** Where the mnist-adversarial package lives (shared by training, evaluation and tests). */
import { fileURLToPath } from 'node:url';

export const MNIST_ADVERSARIAL_DIR = fileURLToPath(new URL('../../models/mnist-adversarial/', import.meta.url));
