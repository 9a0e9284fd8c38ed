/**
 * Evaluation of the query-stream detector: every stream is replayed, one query per
 * request, through the detector the gateway runs (QueryStreamDetector over a
 * MemoryStore, default settings unless given), as one principal per stream. For an
 * attack it reports the query at which the detector first flags (score ≥ threshold) and
 * why; for benign clients, how many are ever flagged and their highest score.
 */
import { MemoryStore } from '../../src/state/memory.js';
import { streamSettingsSchema, type StreamSettings } from '../../src/detect/stream/config.js';
import { QueryStreamDetector } from '../../src/detect/stream/stream-detector.js';
import type { InferenceRequest } from '../../src/pipeline/types.js';
import { STREAM_THRESHOLD } from '../../src/detect/detectors.js';
import type { Stream } from './sequences.js';

/** How one stream went. */
export interface StreamRun {
  name: string;
  queries: number;
  /** 1-based query at which the detector first flagged; undefined if never. */
  firstFlag?: number;
  /** The tests at their limit then. */
  reasons: string[];
  maxScore: number;
}

/** Replays one stream as principal `principal`. */
export async function replayStream(stream: Stream, settings: StreamSettings = streamSettingsSchema.parse({}), principal = 'client'): Promise<StreamRun> {
  const store = new MemoryStore();
  const detector = new QueryStreamDetector('query-stream', settings, store);
  const run: StreamRun = { name: stream.name, queries: 0, reasons: [], maxScore: 0 };
  const total = stream.kind === 'tensor' ? stream.n : stream.texts.length;
  for (let i = 0; i < total; i++) {
    const request: InferenceRequest =
      stream.kind === 'tensor'
        ? { protocol: 'kserve-v2', model: 'mnist', operation: 'infer', texts: [], tensors: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: stream.x.subarray(i * 784, (i + 1) * 784) }], params: { stream: false }, body: {} }
        : { protocol: 'openai', model: 'llm', operation: 'chat', texts: [{ role: 'user', text: stream.texts[i], path: 'messages[0].content' }], tensors: [], params: { stream: false }, body: {} };
    const v = await detector.observe(request, { principal });
    run.queries++;
    if (!v) continue;
    run.maxScore = Math.max(run.maxScore, v.score);
    if (run.firstFlag === undefined && v.score >= STREAM_THRESHOLD) {
      run.firstFlag = i + 1;
      run.reasons = [...v.assessment.reasons];
    }
  }
  await store.close();
  return run;
}

/** What a set of benign clients did. */
export interface BenignSummary {
  clients: number;
  queriesPerClient: number;
  flagged: number;
  /** Highest score any client reached, and the median of each client's highest. */
  maxScore: number;
  medianMaxScore: number;
}

/** Replays benign clients and summarizes them. */
export async function replayBenign(streams: readonly Stream[], settings?: StreamSettings): Promise<BenignSummary> {
  const runs: StreamRun[] = [];
  for (const s of streams) runs.push(await replayStream(s, settings));
  const maxes = runs.map((r) => r.maxScore).sort((a, b) => a - b);
  return {
    clients: runs.length,
    queriesPerClient: runs[0]?.queries ?? 0,
    flagged: runs.filter((r) => r.firstFlag !== undefined).length,
    maxScore: maxes[maxes.length - 1] ?? 0,
    medianMaxScore: maxes[Math.floor(maxes.length / 2)] ?? 0,
  };
}
