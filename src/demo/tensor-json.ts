import { ServerError } from './server-error.js';

/** Open Inference Protocol datatypes this demo server can feed to and read from onnxruntime. */
export type V2Datatype = 'BOOL' | 'UINT8' | 'INT8' | 'INT32' | 'INT64' | 'FP32' | 'FP64';

/** onnxruntime tensor types and their protocol names. */
export const ORT_TO_V2: Readonly<Record<string, V2Datatype>> = Object.freeze({
  bool: 'BOOL',
  uint8: 'UINT8',
  int8: 'INT8',
  int32: 'INT32',
  int64: 'INT64',
  float32: 'FP32',
  float64: 'FP64',
});

/** TF Serving's names for the same types (its metadata speaks in DT_*). */
export const ORT_TO_TF: Readonly<Record<string, string>> = Object.freeze({
  bool: 'DT_BOOL',
  uint8: 'DT_UINT8',
  int8: 'DT_INT8',
  int32: 'DT_INT32',
  int64: 'DT_INT64',
  float32: 'DT_FLOAT',
  float64: 'DT_DOUBLE',
});

/** Deeper nesting than any real tensor needs; bounds the work a hostile body can cause. */
const MAX_RANK = 32;

type Leaf = number | boolean;

/**
 * Flattens a tensor given as a flat or nested JSON array into its row-major leaves.
 * Leaves must be numbers or booleans. Throws a 400 {@link ServerError} otherwise.
 */
export function flattenTensor(value: unknown, what: string): Leaf[] {
  if (!Array.isArray(value)) {
    if (typeof value === 'number' || typeof value === 'boolean') return [value];
    throw new ServerError(400, `${what}: data must be an array of numbers`);
  }
  const out: Leaf[] = [];
  // An explicit stack instead of recursion, so deep nesting cannot overflow the call stack.
  const stack: { arr: unknown[]; i: number }[] = [{ arr: value, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.arr.length) {
      stack.pop();
      continue;
    }
    const v = top.arr[top.i++];
    if (Array.isArray(v)) {
      if (stack.length >= MAX_RANK) throw new ServerError(400, `${what}: nested deeper than ${MAX_RANK} levels`);
      stack.push({ arr: v, i: 0 });
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      out.push(v);
    } else {
      throw new ServerError(400, `${what}: data must contain only numbers or booleans`);
    }
  }
  return out;
}

/**
 * The shape of a rectangular nested array ([] for a scalar). Throws a 400 when rows differ
 * in length (TF Serving reads shapes from nesting, so ragged input has no shape).
 */
export function shapeOfNested(value: unknown, what: string): number[] {
  const shape: number[] = [];
  let v: unknown = value;
  while (Array.isArray(v)) {
    if (shape.length >= MAX_RANK) throw new ServerError(400, `${what}: nested deeper than ${MAX_RANK} levels`);
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  checkRectangular(value, shape, 0, what);
  return shape;
}

function checkRectangular(value: unknown, shape: number[], depth: number, what: string): void {
  if (depth === shape.length) {
    if (Array.isArray(value)) throw new ServerError(400, `${what}: ragged nested array`);
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) throw new ServerError(400, `${what}: ragged nested array`);
  if (depth + 1 < shape.length || value.some(Array.isArray)) {
    for (const item of value) checkRectangular(item, shape, depth + 1, what);
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Row-major flat values to nested arrays of the given shape. */
export function nestTensor<T>(flat: readonly T[], shape: readonly number[]): unknown {
  if (shape.length === 0) return flat[0];
  let offset = 0;
  const build = (depth: number): unknown[] => {
    const out: unknown[] = [];
    for (let i = 0; i < shape[depth]; i++) {
      if (depth === shape.length - 1) out.push(flat[offset++]);
      else out.push(build(depth + 1));
    }
    return out;
  };
  return build(0);
}

/** Leaves as the typed array onnxruntime wants for `ortType`. Throws a 400 on values that do not fit. */
export function toOrtData(leaves: Leaf[], ortType: string, what: string): Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array {
  const nums = leaves.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  const integral = () => {
    if (!nums.every(Number.isInteger)) throw new ServerError(400, `${what}: ${ORT_TO_V2[ortType]} data must be integers`);
  };
  switch (ortType) {
    case 'float32':
      return Float32Array.from(nums);
    case 'float64':
      return Float64Array.from(nums);
    case 'int32':
      integral();
      return Int32Array.from(nums);
    case 'int64':
      integral();
      return BigInt64Array.from(nums.map((n) => BigInt(n)));
    case 'uint8':
    case 'bool':
      integral();
      return Uint8Array.from(nums);
    case 'int8':
      integral();
      return Int8Array.from(nums);
    default:
      throw new ServerError(400, `${what}: tensors of type ${ortType} are not supported`);
  }
}

/** onnxruntime output data as JSON-ready values (bigints to numbers, bool to booleans). */
export function fromOrtData(data: unknown, ortType: string): Leaf[] {
  const arr = Array.from(data as ArrayLike<number | bigint>);
  if (ortType === 'bool') return arr.map((v) => Boolean(v));
  return arr.map((v) => Number(v));
}
