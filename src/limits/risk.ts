/**
 * Risk-adaptive limits: a principal's limits shrink as its risk score grows. The score
 * lives in the state store under `risk:p:<principalId>` (written by identity's RiskEngine,
 * src/auth/risk.ts, from notes such as this stage's `rate-limited` or a detector's
 * `detector-flag`), a value in [0, 1] that decays with a half-life.
 */
import type { RequestContext } from '../pipeline/context.js';
import type { StateStore } from '../state/store.js';

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
  async read(ctx: RequestContext, state: StateStore): Promise<{ score: number; factor: number }> {
    if (!this.enabled || !ctx.principal) return { score: 0, factor: 1 };
    const score = await state.addDecaying(riskKey(ctx.principal.id), 0, this.halfLifeMs, Date.now());
    return { score, factor: this.factorFor(score) };
  }
}
