/**
 * `tensor-rows` v1: the numeric tensors of a request as rows of a fixed width, fed to
 * the model as one float32 batch `[B, size]`. Every numeric tensor is read whole: its
 * values, in row-major order, are cut into rows of `size` (a [1, 784], a [1, 28, 28] and
 * a [784] tensor are each one row of 784; [8, 784] is eight). A tensor whose length is
 * not a multiple of `size` cannot be read as the model was trained to read it, and
 * scoring fails (so the request is refused unless the detector fails open), rather than
 * letting an oddly shaped input through unscored.
 */
import * as ort from '../ort.js';
import { z } from 'zod';
import type { Featurizer, FeaturizerSpec } from '../featurizer.js';
import type { InferenceTensor } from '../../pipeline/types.js';

export const TENSOR_ROWS = 'tensor-rows';

const paramsSchema = z.strictObject({
  /** Values per row: the model's input width. */
  size: z.number().int().min(1).max(1 << 24),
});

export type TensorRowsParams = z.infer<typeof paramsSchema>;

const INPUTS = ['input'] as const;
const NUMERIC = /^(FP|INT|UINT|BF)\d+$|^BOOL$/;

/** A row could not be read from a tensor (wrong length, not a number). */
export class TensorShapeError extends Error {}

/** The featurizer of tensor detectors; build it through the registry (or directly in training code). */
export class TensorRowsFeaturizer implements Featurizer<Float32Array> {
  readonly name = TENSOR_ROWS;
  readonly version = 1;
  readonly kind = 'tensor' as const;
  readonly inputs = INPUTS;

  constructor(readonly params: Readonly<TensorRowsParams>) {}

  /**
   * The rows of a request's numeric tensors (BYTES tensors are texts, not read here).
   * @throws TensorShapeError when a tensor's length is not a multiple of `size` or holds a value that is not a finite float32.
   */
  rows(tensors: readonly InferenceTensor[]): Float32Array[] {
    const size = this.params.size;
    const out: Float32Array[] = [];
    for (const t of tensors) {
      if (!NUMERIC.test(t.datatype)) continue;
      const data = t.data;
      if (data.length % size !== 0 || data.length === 0) {
        throw new TensorShapeError(`tensor ${t.name} has ${data.length} values, not a multiple of the detector's row width ${size}`);
      }
      for (let off = 0; off < data.length; off += size) {
        const row = new Float32Array(size);
        for (let i = 0; i < size; i++) {
          row[i] = Number(data[off + i]);
          // Checked after the float32 conversion: a finite double past its range (1e300)
          // becomes Infinity there, and the model scored such rows as harmless.
          if (!Number.isFinite(row[i])) throw new TensorShapeError(`tensor ${t.name} holds a value that is not a finite float32`);
        }
        out.push(row);
      }
    }
    return out;
  }

  feeds(items: readonly Float32Array[], names: Readonly<Record<string, string>>): Record<string, ort.Tensor> {
    const size = this.params.size;
    const x = new Float32Array(items.length * size);
    items.forEach((r, i) => x.set(r, i * size));
    return { [names.input]: new ort.Tensor('float32', x, [items.length, size]) };
  }
}

export const tensorRowsV1: FeaturizerSpec = {
  name: TENSOR_ROWS,
  version: 1,
  kind: 'tensor',
  create(params: unknown) {
    const r = paramsSchema.safeParse(params);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; '));
    return new TensorRowsFeaturizer(r.data);
  },
};

/** True for the featurizer of tensor detectors. */
export function isTensorRowsFeaturizer(f: Featurizer): f is TensorRowsFeaturizer {
  return f instanceof TensorRowsFeaturizer;
}
