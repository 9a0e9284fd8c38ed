/**
 * The notes telemetry reads. Stages say what they noticed as `Note`s on their decisions
 * (they never call telemetry); the runner collects them in `ctx.notes`, and the metrics,
 * the spans and the audit record are all derived from the same summary built here.
 *
 * The kinds are the ones the stages already report for risk (docs/auth.md, "Note
 * kinds"), read as follows (docs/telemetry.md, "Notes"):
 * - `detector-block`, `detector-flag`, `detector-log` (and any `detector-<action>`): a
 *   detector fired; `name` is the detector, `score` its score;
 * - `detector-pass`: a detector ran and did not fire (name, score);
 * - `detector-shadow`: shadow mode; `detail.wouldAction` is what enforcement would do;
 * - `detector-error`: the detector failed or ran out of budget;
 * - `rate-limited`: a limit refused (or, with `detail.shadow`, would have); `detail.limit`
 *   is its kind (requests, tokens, concurrency, queries).
 * Any of them may carry `detail.latencyMs`. Denials need no note: the runner records the
 * code and the stage that denied.
 */
import type { Note, Outcome } from '../pipeline/types.js';

export const NOTE_DETECTOR_PREFIX = 'detector-';
export const NOTE_RATE_LIMITED = 'rate-limited';

/** Stages whose denials count as authentication or authorization failures. */
export const AUTH_STAGES: ReadonlySet<string> = new Set(['identify', 'authorize']);
/** Stages whose denials count as rate-limit refusals. */
export const LIMIT_STAGES: ReadonlySet<string> = new Set(['limit']);

export type Verdict = 'pass' | 'log' | 'flag' | 'block' | 'error';

export interface DetectorResult {
  name: string;
  verdict: Verdict;
  score?: number;
  latencyMs?: number;
  /** Shadow mode: the verdict is what enforcement would have done. */
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
  /** The detector that fired (an enforced block, else a flag, else a shadow one), if any. */
  fired?: DetectorResult;
}

const EMPTY: NoteSummary = Object.freeze({ detectors: Object.freeze([]), limits: Object.freeze([]) }) as unknown as NoteSummary;

function verdictOf(kind: string, detail: Record<string, unknown>): { verdict: Verdict; shadow?: boolean } {
  const action = kind.slice(NOTE_DETECTOR_PREFIX.length);
  if (action === 'shadow') {
    const would = detail.wouldAction;
    return { verdict: would === 'block' ? 'block' : would === 'allow' || would === undefined ? 'pass' : 'flag', shadow: true };
  }
  if (action === 'block' || action === 'pass' || action === 'error' || action === 'log') return { verdict: action };
  return { verdict: 'flag' }; // flag, and any other action that let the request through
}

function rank(d: DetectorResult): number {
  if (d.verdict === 'block') return d.shadow ? 2 : 4;
  if (d.verdict === 'flag' || d.verdict === 'log') return d.shadow ? 1 : 3;
  return 0;
}

/** One pass over the notes. Tolerant: a malformed note is skipped, never thrown on. */
export function summarizeNotes(notes: readonly Note[]): NoteSummary {
  if (notes.length === 0) return EMPTY;
  let out: NoteSummary | undefined;
  for (const n of notes) {
    const kind = n.kind;
    if (typeof kind !== 'string') continue;
    const detail = n.detail ?? {};
    if (kind.startsWith(NOTE_DETECTOR_PREFIX)) {
      out ??= { detectors: [], limits: [] };
      const r: DetectorResult = { name: typeof n.name === 'string' ? n.name : n.stage, ...verdictOf(kind, detail) };
      if (typeof n.score === 'number' && Number.isFinite(n.score)) r.score = n.score;
      if (typeof detail.latencyMs === 'number' && Number.isFinite(detail.latencyMs)) r.latencyMs = detail.latencyMs;
      if (r.shadow === undefined) delete r.shadow;
      out.detectors.push(r);
      if (rank(r) > (out.fired ? rank(out.fired) : 0)) out.fired = r;
    } else if (kind === NOTE_RATE_LIMITED) {
      out ??= { detectors: [], limits: [] };
      const h: LimitHit = { kind: typeof detail.limit === 'string' ? detail.limit : 'unknown' };
      if (detail.shadow === true) h.shadow = true;
      out.limits.push(h);
    }
  }
  return out ?? EMPTY;
}

/** allow, flag (allowed, but a detector fired or a shadow block/limit would have denied), or deny. */
export function decisionOf(outcome: Outcome, s: NoteSummary): DecisionLabel {
  if (outcome.deniedBy !== undefined) return 'deny';
  if (s.fired) return 'flag';
  for (const l of s.limits) if (l.shadow) return 'flag';
  return 'allow';
}
