/**
 * Featurizers turn what a detector reads into the input tensors of its ONNX model. They
 * are plain TypeScript, named and versioned: the training code and the gateway run the
 * same featurizer, and a package names the one it was trained with (manifest
 * `featurizer: {name, version, params}`). The runtime refuses, at load, a package whose
 * featurizer it does not know, so a model can never be fed features it was not trained on.
 *
 * A featurizer has a `kind` that matches the detector kinds of DESIGN.md: `text` now;
 * `tensor` (numeric inputs) and `stream` (a principal's query sequence) register here
 * the same way.
 */
import type * as ort from 'onnxruntime-node';
import type { FeedBuffers } from './feed-buffers.js';

export const DETECTOR_KINDS = ['text', 'tensor', 'stream'] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

/** What every featurizer has: an identity and the batching of its per-item features into feeds. */
export interface Featurizer<Item = unknown> {
  readonly name: string;
  readonly version: number;
  readonly kind: DetectorKind;
  /** The parameters it was created with (as in the manifest). */
  readonly params: Readonly<Record<string, unknown>>;
  /** The logical inputs it produces; a manifest maps each to a graph input name. */
  readonly inputs: readonly string[];
  /**
   * Builds the feeds of one `run` over a batch of items (rows in order). With `buffers`
   * (a session's: one run at a time, see FeedBuffers) it may reuse the previous run's
   * buffers instead of allocating new ones.
   */
  feeds(items: readonly Item[], names: Readonly<Record<string, string>>, buffers?: FeedBuffers): Record<string, ort.Tensor>;
}

/** A text featurizer: normalizes texts into one stream, cuts it into windows, featurizes a window. */
export interface TextFeaturizer<Item = unknown> extends Featurizer<Item> {
  readonly kind: 'text';
  /** Normalizes the texts a detector reads (and what they decode to) into one stream. */
  prepare(texts: readonly string[]): string;
  /** Windows of the stream as [start, end) offsets: overlapping, each at most `window` long. */
  windows(stream: string): Array<[number, number]>;
  /** The features of one window. */
  featurize(window: string): Item;
  /**
   * Optional: gives back items once the run that read them has ended, so their buffers
   * can be written again (the items must not be used after). Items never given back are
   * left to the GC.
   */
  release?(items: readonly Item[]): void;
}

/** How a featurizer is registered: its identity and a factory that validates `params`. */
export interface FeaturizerSpec {
  readonly name: string;
  readonly version: number;
  readonly kind: DetectorKind;
  /** Throws an Error that says what is wrong with `params`. */
  create(params: unknown): Featurizer;
}

export function isTextFeaturizer(f: Featurizer): f is TextFeaturizer {
  return f.kind === 'text';
}
