/**
 * `palisade detect`: scores JSON lines `{"text": "..."}` with a package and writes one
 * line `{"score": 0.97, "flagged": true}` per input, in order. The package is verified
 * as the gateway would (trusted keys, digest, featurizer), and scored by the same code
 * (normalization, windows, the ONNX session), without early exit so that the score is
 * the highest window's.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { builtinFeaturizers } from './featurizers/registry.js';
import { loadPackage } from './package.js';
import { DetectorSessions } from './sessions.js';
import { readTrustedKey } from './signing.js';
import { scoreTexts } from './text-scorer.js';

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
  if (pkg.manifest.kind !== 'text') throw new Error(`palisade detect scores text packages; ${pkg.manifest.name} is ${pkg.manifest.kind}`);
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
      pending.push(scoreLine(raw));
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
}
