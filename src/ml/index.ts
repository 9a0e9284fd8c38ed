/**
 * palisade's small ML toolkit: seeded randomness, a dense MLP with input gradients, Adam
 * training, metrics, and ONNX export. Plain TypeScript over Float32Array.
 */
export { Rng } from './rng.js';
export * from './linalg.js';
export * from './losses.js';
export * from './mlp.js';
export * from './adam.js';
export * from './train.js';
export * from './metrics.js';
export * from './onnx-builder.js';
