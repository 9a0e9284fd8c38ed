/**
 * Risk-adaptive limits: a principal's limits shrink as its risk score grows. The score
 * lives in the state store under `risk:p:<principalId>` (written by identity's RiskEngine,
 * src/auth/risk.ts, from notes such as this stage's `rate-limited` or a detector's
 * `detector-flag`), a value in [0, 1] that decays with a half-life.
 */
import type { RequestContext } from '../pipeline/context.js';
import type { StateStore } from '../state/store.js';

/** A principal's risk score and the factor it sets on its limits. */
export interface RiskRead {
  score: number;
  factor: number;
}

/** The read without a principal or without shrink steps: nothing to shrink. */
const NO_RISK: RiskRead = Object.freeze({ score: 0, factor: 1 });

export interface ShrinkStep {
  atLeast: number;
  factor: number;
}

/** The state store key of a principal's risk score: the key identity's RiskEngine writes. */
export function riskKey(principalId: string): string {
  return `risk:p:${principalId}`;
}

/**
 * The table of steps.
 *
 * @example
 * const s = new RiskShrink([{ atLeast: 0.5, factor: 0.5 }, { atLeast: 0.8, factor: 0.1 }], 600_000);
 * s.factorFor(0.6) // 0.5
 */
export class RiskShrink {
  /** The steps, highest `atLeast` first (the order factorFor reads them in). */
  readonly steps: readonly ShrinkStep[];

  constructor(
    steps: readonly ShrinkStep[],
    readonly halfLifeMs: number,
  ) {
    this.steps = [...steps].sort((a, b) => b.atLeast - a.atLeast);
  }

  get enabled(): boolean {
    return this.steps.length > 0;
  }

  /** The factor for a score: that of the highest step at or below it, else 1. */
  factorFor(score: number): number {
    for (const s of this.steps) if (score >= s.atLeast) return s.factor;
    return 1;
  }

  /** The caller's score (0 without a principal) and its factor. */
  read(ctx: RequestContext, state: StateStore): RiskRead | Promise<RiskRead> {
    if (!this.enabled || !ctx.principal) return NO_RISK;
    return state.addDecaying(riskKey(ctx.principal.id), 0, this.halfLifeMs, Date.now()).then((score) => ({ score, factor: this.factorFor(score) }));
  }
}
