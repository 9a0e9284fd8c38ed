/**
 * Deterministic noise for classifier outputs. The seed of a row is a keyed HMAC of the
 * row's input, as the model reads it, and of the caller: the same input from the same
 * caller always gets the same noise, so repeating a query and averaging the answers
 * gains nothing, while without the key nobody can predict or remove the noise.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { InferenceTensor, InferenceText } from '../pipeline/types.js';
import type { StateStore } from '../state/store.js';

const DOMAIN = 'palisade/defend/noise/v1';
const STATE_KEY = 'palisade:defend:noise-key';
// A generated key outlives every reload of this process (and, on Redis, other replicas
// started later read it); 10 years is "for as long as the store keeps it".
const KEY_TTL_MS = 10 * 365 * 24 * 3600 * 1000;
const FLOAT32 = new Set(['FP16', 'FP32', 'BF16']);

/**
 * The HMAC key: the configured one, else the one in the state store, else a fresh random
 * key that is then stored there (so a reload keeps the noise of every input unchanged).
 */
export async function resolveNoiseKey(configured: string | undefined, state: StateStore): Promise<Buffer> {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  const stored = await state.get(STATE_KEY);
  if (stored !== undefined) return Buffer.from(stored, 'base64');
  const key = randomBytes(32);
  await state.set(STATE_KEY, key.toString('base64'), KEY_TTL_MS);
  // Another replica may have written first: use whatever the store holds now.
  const now = await state.get(STATE_KEY);
  return now !== undefined ? Buffer.from(now, 'base64') : key;
}

/**
 * Splits a request's input into per-row byte strings: row r of every input tensor whose
 * first dimension is `rows` (the batch), plus every other tensor and text whole. Values are written as
 * the model reads them (float32 for FP16/FP32 inputs, float64 otherwise, -0 as 0), so
 * changes the model cannot see do not buy a fresh seed.
 */
export function rowInputs(tensors: readonly InferenceTensor[], texts: readonly InferenceText[], rows: number): Buffer[] {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shared: Buffer[] = [];
  const batched: { t: InferenceTensor; width: number }[] = [];
  for (const t of sorted) {
    // A row seeds from its own slice only, so that the same image gets the same noise
    // alone or in any batch (else changing its batch mates would buy fresh noise).
    const isBatched = t.shape.length > 0 && t.shape[0] === rows && (rows > 1 || t.shape.length > 1) && t.data.length % rows === 0;
    if (isBatched) batched.push({ t, width: t.data.length / rows });
    else shared.push(header(t, t.shape), values(t, 0, t.data.length));
  }
  for (const x of texts) shared.push(Buffer.from(`${x.path}\u0000${x.text}\u0000`, 'utf8'));
  const common = Buffer.concat(shared);
  const out: Buffer[] = [];
  for (let r = 0; r < rows; r++) {
    const parts: Buffer[] = [common];
    for (const { t, width } of batched) parts.push(header(t, t.shape.slice(1)), values(t, r * width, width));
    out.push(Buffer.concat(parts));
  }
  return out;
}

function header(t: InferenceTensor, shape: readonly number[]): Buffer {
  return Buffer.from(`${t.name}\u0000${t.datatype}\u0000${shape.join(',')}\u0000`, 'utf8');
}

function values(t: InferenceTensor, start: number, count: number): Buffer {
  const f32 = FLOAT32.has(t.datatype);
  const arr = f32 ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = t.data[start + i];
    arr[i] = v === 0 ? 0 : v;
  }
  return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
}

/** The 256-bit seed of one row: HMAC(key, domain, model, output, caller, row input). */
export function rowSeed(key: Buffer, model: string, output: string, caller: string, input: Buffer): Buffer {
  const h = createHmac('sha256', key);
  h.update(`${DOMAIN}\u0000${model}\u0000${output}\u0000${caller}\u0000`);
  h.update(input);
  return h.digest();
}

/**
 * A standard-normal generator over xoshiro128** seeded with the first 128 bits of `seed`
 * (fast, and plenty: its output is never shown without the noise it makes).
 */
export function normalStream(seed: Buffer): () => number {
  let s0 = seed.readUInt32LE(0);
  let s1 = seed.readUInt32LE(4);
  let s2 = seed.readUInt32LE(8);
  let s3 = seed.readUInt32LE(12);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 = (s2 ^ s0) >>> 0;
    s3 = (s3 ^ s1) >>> 0;
    s1 = (s1 ^ s2) >>> 0;
    s0 = (s0 ^ s3) >>> 0;
    s2 = (s2 ^ t) >>> 0;
    s3 = rotl(s3, 11);
    return result;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const z = spare;
      spare = null;
      return z;
    }
    // Box-Muller on (0, 1] x [0, 1).
    const u = (next() + 1) / 4294967296;
    const v = next() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
