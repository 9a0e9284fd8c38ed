/**
 * Verified tokens, so that the steady-state cost of a JWT is one hash and one lookup.
 * Keyed by the SHA-256 of the token (the cache never holds bearer tokens, and keys have
 * a fixed size), bounded (least recently used goes first), and an entry never outlives
 * the token's own expiry. Revocation and sender binding are checked by the caller on
 * every request, hit or miss: the cache stores who, not whether.
 */
import { hash } from 'node:crypto';
import type { Principal } from '../pipeline/types.js';

export interface CachedToken {
  principal: Readonly<Principal>;
  /** Epoch ms: exp (or iat + maxTokenAge, if sooner). */
  expiresAt: number;
}

export class TokenCache {
  private readonly map = new Map<string, CachedToken>();

  constructor(readonly maxEntries: number) {}

  /** The cache key of a token. */
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  get(key: string, now: number): CachedToken | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.map.delete(key);
      return undefined;
    }
    // Refresh its place: Map order is the LRU order.
    this.map.delete(key);
    this.map.set(key, e);
    return e;
  }

  set(key: string, entry: CachedToken, now: number): void {
    if (this.maxEntries === 0 || entry.expiresAt <= now) return;
    this.map.delete(key);
    this.map.set(key, entry);
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest !== undefined) this.map.delete(oldest);
    }
  }

  get size(): number {
    return this.map.size;
  }
}
