/**
 * Per-principal state behind one interface (DESIGN.md, "State"): counters, decaying
 * scores (risk), bounded lists (stream-detector summaries), and flags with a TTL
 * (revoked token ids). `memory` serves one process; `redis` serves many replicas.
 * Every operation that must not race is one atomic step of the store.
 */

export interface StateStore {
  readonly kind: 'memory' | 'redis';
  /** A value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /**
   * `get` without a promise, for a store that holds its data in this process (memory);
   * absent where a read is a round trip (Redis). Hot paths (revocation checks) use it
   * when it is there.
   */
  peek?(key: string): string | undefined;
  /** Sets a value with a time to live (ms). */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Adds `by` to a counter, creating it with `ttlMs` when absent; returns the new value. */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  /**
   * A score that decays exponentially with `halfLifeMs`: adds `delta` to the decayed value
   * at `now` and returns the result, clamped to [0, max]. delta 0 reads it.
   */
  addDecaying(key: string, delta: number, halfLifeMs: number, now: number, max?: number): Promise<number>;
  /** Appends to a list kept at most `maxLen` long (oldest dropped); refreshes its TTL. */
  pushBounded(key: string, item: string, maxLen: number, ttlMs: number): Promise<void>;
  /** The whole list, oldest first. */
  list(key: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Decay of a score `v` written at `at`, read at `now`. */
export function decayed(v: number, at: number, now: number, halfLifeMs: number): number {
  if (v <= 0) return 0;
  const dt = Math.max(0, now - at);
  return v * Math.pow(0.5, dt / halfLifeMs);
}
