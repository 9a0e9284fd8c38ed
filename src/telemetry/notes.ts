/**
 * The notes telemetry reads. Stages say what they noticed as `Note`s on their decisions
 * (they never call telemetry); the runner collects them in `ctx.notes`, and the metrics,
 * the spans and the audit record are all derived from the same summary built here.
 *
 * Conventions (docs/telemetry.md, "Notes"):
 * - a detector result: `{ kind: 'detector', name: <detector>, score, detail: { verdict:
 *   'pass' | 'flag' | 'block', latencyMs?, shadow? } }` (`shadow: true` when a block was
 *   not enforced);
 * - a limit that was hit: `{ kind: 'limit', name: <kind: requests | tokens | concurrency |
 *   budget | ...>, detail: { shadow? } }`.
 * Denials need no note: the runner records the code and the denying stage.
 */
import type { Note, Outcome } from '../pipeline/types.js';

export const NOTE_DETECTOR = 'detector';
export const NOTE_LIMIT = 'limit';

/** Stages whose denials count as authentication or authorization failures. */
export const AUTH_STAGES: ReadonlySet<string> = new Set(['identify', 'authorize']);
/** Stages whose denials count as rate-limit refusals. */
export const LIMIT_STAGES: ReadonlySet<string> = new Set(['limit']);

export type Verdict = 'pass' | 'flag' | 'block';

export interface DetectorResult {
  name: string;
  score?: number;
  verdict: Verdict;
  latencyMs?: number;
  shadow?: boolean;
}

export interface LimitHit {
  kind: string;
  shadow?: boolean;
}

/** The gateway's decision on a request, as metrics and the audit log name it. */
export type DecisionLabel = 'allow' | 'flag' | 'deny' | 'reject';

export interface NoteSummary {
  detectors: DetectorResult[];
  limits: LimitHit[];
  /** The detector that fired (blocked, else flagged first), if any. */
  fired?: DetectorResult;
}

const EMPTY: NoteSummary = Object.freeze({ detectors: [], limits: [] }) as NoteSummary;

/** One pass over the notes. Tolerant: a malformed note is skipped, never thrown on. */
export function summarizeNotes(notes: readonly Note[]): NoteSummary {
  if (notes.length === 0) return EMPTY;
  const out: NoteSummary = { detectors: [], limits: [] };
  for (const n of notes) {
    if (n.kind === NOTE_DETECTOR) {
      const d = n.detail ?? {};
      const verdict: Verdict = d.verdict === 'block' || d.verdict === 'flag' ? d.verdict : 'pass';
      const r: DetectorResult = { name: typeof n.name === 'string' ? n.name : n.stage, verdict };
      if (typeof n.score === 'number' && Number.isFinite(n.score)) r.score = n.score;
      if (typeof d.latencyMs === 'number' && Number.isFinite(d.latencyMs)) r.latencyMs = d.latencyMs;
      if (d.shadow === true) r.shadow = true;
      out.detectors.push(r);
      if (verdict === 'block' && out.fired?.verdict !== 'block') out.fired = r;
      else if (verdict === 'flag' && !out.fired) out.fired = r;
    } else if (n.kind === NOTE_LIMIT) {
      const h: LimitHit = { kind: typeof n.name === 'string' ? n.name : 'unknown' };
      if (n.detail?.shadow === true) h.shadow = true;
      out.limits.push(h);
    }
  }
  return out;
}

/** allow, flag (allowed, but a detector flagged or a shadow block/limit would have denied), or deny. */
export function decisionOf(outcome: Outcome, s: NoteSummary): DecisionLabel {
  if (outcome.deniedBy !== undefined) return 'deny';
  if (s.fired) return 'flag';
  for (const l of s.limits) if (l.shadow) return 'flag';
  return 'allow';
}
