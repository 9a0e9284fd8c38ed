/**
 * Scoring of tensors: the request's numeric tensors, cut into rows by the package's
 * featurizer, go through the micro-batcher in one submission; the score is the highest
 * row's (one adversarial row in a batch is enough to act on the request).
 */
import type { ScoreSignal } from './detectors.js';
import { isTensorRowsFeaturizer } from './featurizers/tensor-rows.js';
import type { ScoringEngine } from './sessions.js';
import type { InferenceTensor } from '../pipeline/types.js';

/** What {@link scoreTensors} found. */
export interface TensorScore {
  /** Highest row score. */
  score: number;
  /** Score of each row, in order. */
  rows: number[];
}

/**
 * Scores the tensors of a request with a tensor engine; undefined when the request has
 * no numeric tensor.
 * @throws TensorShapeError when a tensor cannot be cut into the model's rows.
 */
export async function scoreTensors(engine: ScoringEngine, tensors: readonly InferenceTensor[], signal?: ScoreSignal): Promise<TensorScore | undefined> {
  const f = engine.featurizer;
  if (!isTensorRowsFeaturizer(f)) throw new Error(`${engine.manifest.name} is a ${f.kind} detector, not a tensor one`);
  const rows = f.rows(tensors);
  if (rows.length === 0) return undefined;
  signal?.throwIfAborted();
  const scores = await engine.score(rows);
  let best = 0;
  for (const s of scores) if (s > best) best = s;
  return { score: best, rows: scores };
}
