/**
 * The statistics of a principal's query stream, after PRADA (Juuti et al., 2019,
 * "PRADA: Protecting against DNN Model Stealing Attacks"). For each query the detector
 * records d_min, the distance to the nearest of the principal's earlier queries (kept in
 * a bounded window). Natural queries (real digits, real photos) lie on the data's
 * manifold, and their d_min values spread out roughly normally; extraction queries do
 * not:
 *
 * - **normality**: synthetic points made by small steps from earlier queries (Jacobian
 *   augmentation) give a second, tight mode of small distances. The Shapiro-Wilk W of
 *   the recent d_min values falls (PRADA's test).
 * - **concentration**: random queries in a high-dimensional space are all about equally
 *   far from one another, so d_min barely varies: a coefficient of variation far below
 *   that of any natural data (W, being scale-free, cannot see it).
 * - **bursts**: near-duplicates (d_min tiny next to the query's own size) in a short
 *   span are sweeps around a few points (boundary probing, black-box attacks, the
 *   membership sweep of an LLM).
 *
 * Each test gives a score that is 0.5 at its limit; the stream's score is the highest,
 * so the one threshold of a detector (0.5 by default) scales all three.
 */
import { shapiroWilk } from './shapiro-wilk.js';

/** What the stream detector remembers of one query. */
export interface StreamObservation {
  /** Distance to the nearest earlier query in the window; undefined for the first query. */
  dmin?: number;
  /** True when that distance is within the near-duplicate radius. */
  dup: boolean;
}

/** Limits of the three tests (see the module comment). */
export interface StreamTestParams {
  /** The d_min values tested: the last `testWindow`. */
  testWindow: number;
  /** No normality or concentration verdict before this many d_min values. */
  minQueries: number;
  /** Flag when Shapiro-Wilk W of the tested d_min values is at or below this. 0 turns the test off. */
  minW: number;
  /** Flag when their coefficient of variation (std / mean) is at or below this. 0 turns the test off. */
  minCv: number;
  /** The burst test looks at the last `burstWindow` queries... */
  burstWindow: number;
  /** ...and flags when at least this many were near-duplicates. 0 turns the test off. */
  burstCount: number;
}

/** What {@link assessStream} found. */
export interface StreamAssessment {
  /** The highest of the tests' scores, in [0, 1]; at or over 0.5 a test is at its limit. */
  score: number;
  /** Tests at or over their limit. */
  reasons: ('normality' | 'concentration' | 'burst')[];
  /** Shapiro-Wilk W, when tested. */
  w?: number;
  /** Coefficient of variation, when tested. */
  cv?: number;
  /** Near-duplicates among the last `burstWindow` queries. */
  dups: number;
}

/**
 * Assesses a stream from its observations (oldest first, the current query last).
 *
 * @example
 * assessStream(observations, { testWindow: 128, minQueries: 50, minW: 0.87, minCv: 0.1, burstWindow: 50, burstCount: 10 });
 */
export function assessStream(observations: readonly StreamObservation[], p: StreamTestParams): StreamAssessment {
  const reasons: StreamAssessment['reasons'] = [];
  let score = 0;
  let dups = 0;
  for (let i = Math.max(0, observations.length - p.burstWindow); i < observations.length; i++) if (observations[i].dup) dups++;
  if (p.burstCount > 0) {
    const s = Math.min(1, (0.5 * dups) / p.burstCount);
    if (dups >= p.burstCount) reasons.push('burst');
    score = Math.max(score, s);
  }
  const d: number[] = [];
  for (let i = observations.length - 1; i >= 0 && d.length < p.testWindow; i--) {
    const v = observations[i].dmin;
    if (v !== undefined && Number.isFinite(v)) d.push(v);
  }
  let w: number | undefined;
  let cv: number | undefined;
  if (d.length >= Math.max(3, p.minQueries)) {
    if (p.minW > 0) {
      w = shapiroWilk(d).w;
      // 0.5 at W = minW, 1 at W = 0 (a linear scale of 1 - W).
      const s = Math.min(1, (0.5 * (1 - w)) / (1 - p.minW));
      if (w <= p.minW) reasons.push('normality');
      score = Math.max(score, s);
    }
    if (p.minCv > 0) {
      let mean = 0;
      for (const v of d) mean += v;
      mean /= d.length;
      let varSum = 0;
      for (const v of d) varSum += (v - mean) ** 2;
      cv = mean > 0 ? Math.sqrt(varSum / d.length) / mean : 0;
      // A stream of exact repeats (mean 0) is the burst test's to judge, not this one's.
      if (mean > 0) {
        const s = Math.min(1, (0.5 * p.minCv) / Math.max(cv, 1e-9));
        if (cv <= p.minCv) reasons.push('concentration');
        score = Math.max(score, s);
      }
    }
  }
  return { score, reasons, w, cv, dups };
}
