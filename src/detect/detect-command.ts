/**
 * `palisade detect`: scores JSON lines with a package and writes one line
 * `{"score": 0.97, "flagged": true}` per input, in order. A text package reads
 * `{"text": "..."}` lines; a tensor package reads `{"tensor": [...], "shape": [1, 784]}`
 * lines (the values flat or nested, row-major; a line of several rows also gets `rows`,
 * each row's score). The package is verified as the gateway would (trusted keys,
 * digest, featurizer), and scored by the same code (normalization, windows or rows, the
 * ONNX session); text is scored without early exit so that the score is the highest
 * window's.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { builtinFeaturizers } from './featurizers/registry.js';
import { loadPackage } from './package.js';
import { DetectorSessions } from './sessions.js';
import { readTrustedKey } from './signing.js';
import { scoreTexts } from './text-scorer.js';
import { scoreTensors } from './tensor-scorer.js';
import { TensorShapeError } from './featurizers/tensor-rows.js';

export interface DetectCommandOptions {
  packageDir: string;
  /** Public JWK files to trust. */
  trustedKeys: string[];
  allowUnsigned?: boolean;
  /** Default: the manifest's. */
  threshold?: number;
  input: Readable;
  output: Writable;
  warn?: (msg: string) => void;
  /** Lines scored concurrently (they share model runs through the micro-batcher). */
  concurrency?: number;
}

/**
 * Runs the command. Resolves with the number of lines scored. A line that is not a JSON
 * object with a string `text` gets `{"error": "..."}` in its place, so outputs stay aligned.
 */
export async function runDetect(opts: DetectCommandOptions): Promise<number> {
  const trusted = await Promise.all(opts.trustedKeys.map((f) => readTrustedKey(f)));
  const pkg = await loadPackage(opts.packageDir, {
    trustedKeys: trusted,
    featurizers: builtinFeaturizers(),
    allowUnsigned: opts.allowUnsigned,
    warn: opts.warn,
  });
  const kind = pkg.manifest.kind;
  if (kind !== 'text' && kind !== 'tensor') throw new Error(`palisade detect scores text and tensor packages; ${pkg.manifest.name} is ${kind}`);
  const threshold = opts.threshold ?? pkg.manifest.threshold;
  const sessions = new DetectorSessions();
  const lease = await sessions.acquire(pkg, { maxSize: 64, maxWaitMs: 0 });
  const concurrency = opts.concurrency ?? 16;
  let count = 0;
  try {
    const rl = createInterface({ input: opts.input, crlfDelay: Infinity });
    // Score ahead while writing in order.
    const pending: Promise<string>[] = [];
    const flush = async (keep: number) => {
      while (pending.length > keep) {
        const line = await pending.shift()!;
        if (!opts.output.write(`${line}\n`)) await new Promise((r) => opts.output.once('drain', r));
      }
    };
    for await (const raw of rl) {
      if (raw.trim() === '') continue;
      count++;
      pending.push(kind === 'text' ? scoreLine(raw) : scoreTensorLine(raw));
      await flush(concurrency);
    }
    await flush(0);
  } finally {
    lease.release();
    await sessions.close();
  }
  return count;

  async function scoreLine(raw: string): Promise<string> {
    let text: unknown;
    try {
      text = (JSON.parse(raw) as { text?: unknown })?.text;
    } catch {
      return JSON.stringify({ error: 'not JSON' });
    }
    if (typeof text !== 'string') return JSON.stringify({ error: 'no string "text"' });
    const r = await scoreTexts(lease.engine, [text], { threshold, earlyExit: false });
    return JSON.stringify({ score: Math.round(r.score * 1e6) / 1e6, flagged: r.score >= threshold });
  }

  async function scoreTensorLine(raw: string): Promise<string> {
    let line: { tensor?: unknown; shape?: unknown };
    try {
      line = JSON.parse(raw) as typeof line;
    } catch {
      return JSON.stringify({ error: 'not JSON' });
    }
    const parsed = parseTensorLine(line);
    if (typeof parsed === 'string') return JSON.stringify({ error: parsed });
    let r;
    try {
      r = await scoreTensors(lease.engine, [{ name: 'tensor', shape: parsed.shape, datatype: 'FP32', data: parsed.data }]);
    } catch (err) {
      if (err instanceof TensorShapeError) return JSON.stringify({ error: err.message });
      throw err;
    }
    if (!r) return JSON.stringify({ error: 'empty tensor' });
    const round = (v: number) => Math.round(v * 1e6) / 1e6;
    return JSON.stringify({ score: round(r.score), flagged: r.score >= threshold, ...(r.rows.length > 1 ? { rows: r.rows.map(round) } : {}) });
  }
}

/** A tensor line's values (flattened) and shape, or what is wrong with it. */
export function parseTensorLine(line: { tensor?: unknown; shape?: unknown } | null): { data: Float32Array; shape: number[] } | string {
  if (!line || typeof line !== 'object' || !Array.isArray(line.tensor)) return 'no array "tensor"';
  const flat: number[] = [];
  const walk = (v: unknown, depth: number): boolean => {
    if (typeof v === 'number') {
      flat.push(v);
      return Number.isFinite(v);
    }
    return Array.isArray(v) && depth < 32 && v.every((x) => walk(x, depth + 1));
  };
  if (!walk(line.tensor, 0)) return '"tensor" must hold finite numbers only';
  let shape: number[];
  if (line.shape === undefined) shape = [flat.length];
  else if (Array.isArray(line.shape) && line.shape.every((d) => Number.isInteger(d) && d >= 0)) shape = line.shape as number[];
  else return '"shape" must be an array of non-negative integers';
  if (shape.reduce((a, b) => a * b, 1) !== flat.length) return `"shape" [${shape.join(', ')}] does not hold ${flat.length} values`;
  return { data: Float32Array.from(flat), shape };
}
