/**
 * Scoring of text: the texts a detector reads are normalized into one stream (so an
 * attack split across messages is read whole), cut into overlapping windows, and the
 * windows are scored in growing chunks through the micro-batcher. The score is the
 * highest window score; with early exit, scoring stops at the first chunk that holds a
 * window at or over the threshold. Every step is linear in the text length.
 */
import { isTextFeaturizer, type TextFeaturizer } from './featurizer.js';
import type { ScoringEngine } from './sessions.js';

export interface TextScoreOptions {
  /** Windows at or over it stop the scoring when `earlyExit` is set. */
  threshold: number;
  earlyExit: boolean;
  /** Stops before the next chunk once aborted (budget elapsed, client gone). */
  signal?: AbortSignal;
}

export interface TextScore {
  score: number;
  /** Windows in the stream, and how many were scored before the exit. */
  windows: number;
  scored: number;
}

/**
 * First chunk of windows, and the largest: short texts take one run, long ones a few.
 * 8 windows cover a 3 KB text with package 1.1.0's 512-character windows (a 2 KB prompt
 * is 5 windows): one ONNX run, not two.
 */
const FIRST_CHUNK = 8;
const MAX_CHUNK = 32;

/** Scores texts with a text engine. Resolves to score 0 when there is nothing to read. */
export async function scoreTexts(engine: ScoringEngine, texts: readonly string[], opts: TextScoreOptions): Promise<TextScore> {
  const f = engine.featurizer;
  if (!isTextFeaturizer(f)) throw new Error(`${engine.manifest.name} is a ${f.kind} detector, not a text one`);
  const feat = f as TextFeaturizer;
  const stream = feat.prepare(texts);
  if (stream.length === 0) return { score: 0, windows: 0, scored: 0 };
  const windows = feat.windows(stream);
  let best = 0;
  let scored = 0;
  let chunk = FIRST_CHUNK;
  while (scored < windows.length) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const end = Math.min(windows.length, scored + chunk);
    const rows: unknown[] = new Array(end - scored);
    for (let i = scored; i < end; i++) rows[i - scored] = feat.featurize(stream.slice(windows[i][0], windows[i][1]));
    let scores: number[];
    try {
      scores = await engine.score(rows);
    } finally {
      // The batch that held the rows has run (or will never run): their buffers can be reused.
      feat.release?.(rows);
    }
    for (const s of scores) if (s > best) best = s;
    scored = end;
    if (opts.earlyExit && best >= opts.threshold) break;
    chunk = Math.min(chunk * 2, MAX_CHUNK);
  }
  return { score: best, windows: windows.length, scored };
}
