/**
 * Revoked token ids and principals, in the StateStore (so every replica sees them once
 * the Redis store is in use). Checked on every request, cache hit or not.
 */
import type { StateStore } from '../state/store.js';

const JTI = 'auth:revoked:jti:';
const PRINCIPAL = 'auth:revoked:principal:';

export interface Revocation {
  jti?: string;
  principal?: string;
}

export class Revocations {
  constructor(private readonly state: StateStore) {}

  /** Revokes a token id and/or a principal for `ttlMs` (it should outlast every token concerned). */
  async revoke(r: Revocation, ttlMs: number, now = Date.now()): Promise<void> {
    const until = String(now + ttlMs);
    if (r.jti !== undefined) await this.state.set(JTI + r.jti, until, ttlMs);
    if (r.principal !== undefined) await this.state.set(PRINCIPAL + r.principal, until, ttlMs);
  }

  /** Lifts a revocation. */
  async restore(r: Revocation): Promise<void> {
    if (r.jti !== undefined) await this.state.del(JTI + r.jti);
    if (r.principal !== undefined) await this.state.del(PRINCIPAL + r.principal);
  }

  /**
   * Whether a credential of `principal` (with token id `jti`) is revoked: at once from a
   * store in this process, else a promise of the store's answer.
   */
  isRevoked(principal: string, jti: string | undefined): boolean | Promise<boolean> {
    const st = this.state;
    if (st.peek) return st.peek(PRINCIPAL + principal) !== undefined || (jti !== undefined && st.peek(JTI + jti) !== undefined);
    return this.fetchRevoked(principal, jti);
  }

  private async fetchRevoked(principal: string, jti: string | undefined): Promise<boolean> {
    const [p, j] = await Promise.all([
      this.state.get(PRINCIPAL + principal),
      jti === undefined ? undefined : this.state.get(JTI + jti),
    ]);
    return p !== undefined || j !== undefined;
  }
}
