/**
 * The stateful query-stream detector (`kind: stream`): per principal and model, it
 * remembers a bounded window of the principal's queries in the StateStore, as compact
 * summaries (a tensor row's sketch, or a prompt's SimHash, with the query's d_min), and
 * scores each new query by the statistics of the stream (./prada.ts). The state lives
 * in the StateStore only, so it survives a config reload and is shared by every gateway
 * on one Redis.
 *
 * What a request contributes:
 * - numeric tensors: every row (the first dimension of a tensor of rank ≥ 2), in order;
 * - otherwise its texts: the last text among the roles the detector reads (the newest
 *   turn of a chat; a chat resends its history, which would make every turn a near
 *   duplicate of the last).
 *
 * The score of a request is the highest stream score after any of its rows.
 */
import type { ScoreSignal } from '../detectors.js';
import type { InferenceRequest } from '../../pipeline/types.js';
import type { StateStore } from '../../state/store.js';
import { assessStream, type StreamAssessment, type StreamObservation, type StreamTestParams } from './prada.js';
import { decodeSimHash, encodeSimHash, hamming, simhash, type SimHash } from './near-duplicate.js';
import type { StreamSettings } from './config.js';
import { decodeSketch, encodeSketch, sketchDistance, sketchNorm, sketchOf, type Sketch } from './sketch.js';

/** What one request did to a stream. */
export interface StreamVerdict {
  /** Highest stream score over the request's queries, in [0, 1]. */
  score: number;
  /** The assessment at that score. */
  assessment: StreamAssessment;
  /** Queries the request contributed. */
  queries: number;
  /** Length of the stream after the request (bounded by the window). */
  length: number;
}

/** Who a stream belongs to. */
export interface StreamOwner {
  /** The principal's id; undefined without one (the client address is used). */
  principal?: string;
  clientAddress?: string;
}

interface TensorEntry extends StreamObservation {
  sketch: Sketch;
}

interface TextEntry extends StreamObservation {
  hash: SimHash;
}

const NUMERIC = /^(FP|INT|UINT|BF)\d+$|^BOOL$|^(float|int|uint|double|half|bool)/i;

/** The state store key of a stream (exported for tests and operators). */
export function streamKey(detector: string, model: string, owner: StreamOwner): string {
  const who = owner.principal !== undefined ? `p:${owner.principal}` : `a:${owner.clientAddress ?? 'unknown'}`;
  return `stream:${detector}:${model}:${who}`;
}

/**
 * The rows of the numeric tensors of a request: a tensor of rank ≥ 2 is split along its
 * first dimension, a tensor of rank 0 or 1 is one row.
 */
export function tensorRows(request: InferenceRequest): ArrayLike<number>[] {
  const rows: ArrayLike<number>[] = [];
  for (const t of request.tensors) {
    if (!NUMERIC.test(t.datatype)) continue;
    const data = t.data;
    const n = t.shape.length >= 2 ? t.shape[0] : 1;
    if (!(n > 0) || data.length === 0) continue;
    const width = Math.floor(data.length / n);
    if (width === 0) continue;
    for (let r = 0; r < n; r++) rows.push(sliceOf(data, r * width, (r + 1) * width));
  }
  return rows;
}

function sliceOf(data: ArrayLike<number>, start: number, end: number): ArrayLike<number> {
  const d = data as ArrayLike<number> & { subarray?: (s: number, e: number) => ArrayLike<number>; slice?: (s: number, e: number) => ArrayLike<number> };
  if (typeof d.subarray === 'function') return d.subarray(start, end);
  if (typeof d.slice === 'function') return d.slice(start, end);
  return Array.from({ length: end - start }, (_, i) => data[start + i]);
}

/**
 * A stream detector. One instance per configured detector; it holds no state of its
 * own (all of it is in the store), so a reload may build a new one freely.
 *
 * @example
 * const d = new QueryStreamDetector('extraction', settings, services.state);
 * const v = await d.observe(request, { principal: 'alice' }); // v.score >= 0.5: flag
 */
export class QueryStreamDetector {
  private readonly tensorTests: StreamTestParams;
  private readonly textTests: StreamTestParams;

  constructor(
    readonly name: string,
    readonly settings: StreamSettings,
    private readonly state: StateStore,
  ) {
    const t = settings.tensor;
    this.tensorTests = { testWindow: t.testWindow, minQueries: t.minQueries, minW: t.minW, minCv: t.minCv, burstWindow: t.burstWindow, burstCount: t.burstCount };
    const x = settings.text;
    // Hamming distances are small integers: normality and concentration say nothing there.
    this.textTests = { testWindow: 0, minQueries: Infinity, minW: 0, minCv: 0, burstWindow: x.burstWindow, burstCount: x.burstCount };
  }

  /**
   * Records the request's queries in the principal's stream and scores the stream.
   * Undefined when the request holds nothing this detector reads.
   */
  async observe(request: InferenceRequest, owner: StreamOwner, roles?: ReadonlySet<string>, signal?: ScoreSignal): Promise<StreamVerdict | undefined> {
    const rows = tensorRows(request);
    if (rows.length > 0) return this.observeTensors(request.model, owner, rows, signal);
    let text: string | undefined;
    for (const t of request.texts) if (!roles || roles.has(t.role)) text = t.text;
    if (text === undefined) return undefined;
    return this.observeText(request.model, owner, text, signal);
  }

  private async observeTensors(model: string, owner: StreamOwner, rows: ArrayLike<number>[], signal?: ScoreSignal): Promise<StreamVerdict> {
    const { window, sketchDims, hashSeed, ttl } = this.settings;
    const key = streamKey(this.name, model, owner);
    const history: TensorEntry[] = [];
    for (const item of await this.state.list(key)) {
      const e = decodeTensorEntry(item, sketchDims);
      if (e) history.push(e);
    }
    signal?.throwIfAborted();
    const radius = this.settings.tensor.dupRadius;
    let best: StreamAssessment | undefined;
    const fresh: TensorEntry[] = [];
    for (const row of rows) {
      const sketch = sketchOf(row, sketchDims, hashSeed);
      let dmin = Infinity;
      for (let i = Math.max(0, history.length - window); i < history.length; i++) {
        const d = sketchDistance(sketch, history[i].sketch);
        if (d < dmin) dmin = d;
      }
      const has = Number.isFinite(dmin);
      const entry: TensorEntry = { sketch, dmin: has ? dmin : undefined, dup: has && dmin <= radius * sketchNorm(sketch) };
      history.push(entry);
      fresh.push(entry);
      const a = assessStream(history, this.tensorTests);
      if (!best || a.score > best.score) best = a;
    }
    // Only the newest `window` matter to the next request.
    for (const e of fresh.slice(-window)) await this.state.pushBounded(key, encodeTensorEntry(e), window, ttl);
    return { score: best!.score, assessment: best!, queries: rows.length, length: Math.min(history.length, window) };
  }

  private async observeText(model: string, owner: StreamOwner, text: string, signal?: ScoreSignal): Promise<StreamVerdict> {
    const { window, hashSeed, ttl } = this.settings;
    const key = streamKey(this.name, model, owner);
    const history: TextEntry[] = [];
    for (const item of await this.state.list(key)) {
      const e = decodeTextEntry(item);
      if (e) history.push(e);
    }
    signal?.throwIfAborted();
    const hash = simhash(text, hashSeed);
    let dmin = Infinity;
    for (const h of history) dmin = Math.min(dmin, hamming(hash, h.hash));
    const has = Number.isFinite(dmin);
    const entry: TextEntry = { hash, dmin: has ? dmin : undefined, dup: has && dmin <= this.settings.text.dupBits };
    history.push(entry);
    const a = assessStream(history, this.textTests);
    await this.state.pushBounded(key, encodeTextEntry(entry), window, ttl);
    return { score: a.score, assessment: a, queries: 1, length: Math.min(history.length, window) };
  }
}

// Entries are `t|<dmin or ->|<0 or 1>|<sketch>` and `s|<dmin or ->|<0 or 1>|<simhash hex>`.

function head(e: StreamObservation): string {
  return `${e.dmin === undefined ? '-' : Number(e.dmin.toPrecision(5))}|${e.dup ? 1 : 0}`;
}

function parseHead(parts: string[]): StreamObservation | undefined {
  const dmin = parts[1] === '-' ? undefined : Number(parts[1]);
  if (dmin !== undefined && !(dmin >= 0)) return undefined;
  return { dmin, dup: parts[2] === '1' };
}

function encodeTensorEntry(e: TensorEntry): string {
  return `t|${head(e)}|${encodeSketch(e.sketch)}`;
}

function decodeTensorEntry(item: string, dims: number): TensorEntry | undefined {
  const parts = item.split('|');
  if (parts.length !== 4 || parts[0] !== 't') return undefined;
  const h = parseHead(parts);
  const sketch = decodeSketch(parts[3], dims);
  return h && sketch ? { ...h, sketch } : undefined;
}

function encodeTextEntry(e: TextEntry): string {
  return `s|${head(e)}|${encodeSimHash(e.hash)}`;
}

function decodeTextEntry(item: string): TextEntry | undefined {
  const parts = item.split('|');
  if (parts.length !== 4 || parts[0] !== 's') return undefined;
  const h = parseHead(parts);
  const hash = decodeSimHash(parts[3]);
  return h && hash ? { ...h, hash } : undefined;
}
