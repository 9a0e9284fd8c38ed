/**
 * Risk: a score in [0, 1] per principal and per client address, kept in the StateStore
 * as an exponentially decaying sum of weighted events. Stages report events as Notes;
 * the identify stage's `done` hook (the last hook of a request) turns the notes of a
 * request into risk here. The score that policy reads is the larger of the principal's
 * and the address's: a caller whose address has just failed authentication many times
 * is not trusted as much as usual, whatever credential it presents next.
 */
import type { Note } from '../pipeline/types.js';
import type { StateStore } from '../state/store.js';

const PRINCIPAL = 'risk:p:';
const ADDRESS = 'risk:a:';

export interface RiskSettings {
  halfLife: number;
  weights: Readonly<Record<string, number>>;
}

export class RiskEngine {
  constructor(
    private readonly state: StateStore,
    private readonly settings: RiskSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** The weight of one event of `kind` (0 for kinds the config does not weigh). */
  weight(kind: string): number {
    return Object.hasOwn(this.settings.weights, kind) ? this.settings.weights[kind] : 0;
  }

  /** The risk of a caller now: max of its principal's and its address's score. */
  async score(principal: string | undefined, address: string): Promise<number> {
    const t = this.now();
    const h = this.settings.halfLife;
    const [p, a] = await Promise.all([
      principal === undefined ? 0 : this.state.addDecaying(PRINCIPAL + principal, 0, h, t),
      this.state.addDecaying(ADDRESS + address, 0, h, t),
    ]);
    return Math.max(p, a);
  }

  /** Adds `amount` to a principal's score (or, without one, to the address's). Returns the new score. */
  async add(target: { principal?: string; address?: string }, amount: number): Promise<number> {
    const key = target.principal !== undefined ? PRINCIPAL + target.principal : ADDRESS + target.address;
    return this.state.addDecaying(key, amount, this.settings.halfLife, this.now());
  }

  /**
   * Applies the notes of one request: the sum of their weights goes to the principal when
   * one was identified, otherwise (authentication failed) to the client address.
   */
  async account(notes: readonly Note[], principal: string | undefined, address: string): Promise<number | undefined> {
    let sum = 0;
    for (const n of notes) sum += this.weight(n.kind);
    if (sum === 0) return undefined;
    return this.add(principal !== undefined ? { principal } : { address }, sum);
  }
}
