/**
 * rate-limiter-flexible's RateLimiterMemory with a bounded store. The library keeps one
 * record and one timer per key until its window ends, so a flood of distinct keys (one
 * per spoofed address) grows memory with the flood. Here the storage is a Map in
 * expiry order without timers: every so many writes expired records are dropped from the
 * head, and past `maxKeys` the oldest records go (those closest to their reset). The limiting itself
 * (consume, reward, penalty, rejection) stays the library's.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

interface Rec {
  value: number;
  /** ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
}

/**
 * Sweep once per this many writes. Each sweep walks from the head of the Map, and a V8
 * Map walk skips the holes that deletions at the head leave until its next rehash, so a
 * walk per write would cost O(holes) every time; in batches the cost is amortized.
 */
const SWEEP_EVERY = 1024;
/** Past maxKeys, evict down to this share of it, in one walk. */
const EVICT_TO = 0.9;

/**
 * The storage interface RateLimiterMemory calls (`incrby`, `set`, `get`, `delete`, and
 * `_storage` for dump), bounded.
 */
export class BoundedMemoryStorage {
  /** Named as the library's, which `dump()` reads. */
  readonly _storage = new Map<string, Rec>();
  private writes = 0;

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  incrby(key: string, value: number, durationSec: number): RateLimiterRes {
    const consumed = this.add(key, value, durationSec);
    return new RateLimiterRes(0, this.lastMs, consumed, this.lastNew);
  }

  /** ms to the reset of the key `add` last touched (-1: none), and whether it created it. */
  lastMs = 0;
  lastNew = false;

  /**
   * `incrby` without a result object (the limit stage's hot path): returns the key's new
   * value and leaves its ms to reset in `lastMs`.
   */
  add(key: string, value: number, durationSec: number): number {
    const r = this._storage.get(key);
    if (r) {
      const ms = r.expiresAt === null ? -1 : r.expiresAt - this.now();
      if (r.expiresAt === null || ms > 0) {
        r.value += value;
        this.lastMs = ms;
        this.lastNew = false;
        return r.value;
      }
    }
    const res = this.set(key, value, durationSec);
    this.lastMs = res.msBeforeNext;
    this.lastNew = true;
    return res.consumedPoints;
  }

  /** The key's value and ms to its reset (in `lastMs`), or undefined when absent or expired. */
  peek(key: string): number | undefined {
    const r = this._storage.get(key);
    if (!r) return undefined;
    const ms = r.expiresAt === null ? -1 : r.expiresAt - this.now();
    if (r.expiresAt !== null && ms <= 0) return undefined;
    this.lastMs = ms;
    return r.value;
  }

  set(key: string, value: number, durationSec: number): RateLimiterRes {
    const ms = durationSec * 1000;
    const rec: Rec = { value: Math.trunc(value), expiresAt: ms > 0 ? this.now() + ms : null };
    // Re-append so that Map order stays expiry order (windows of one limiter are equal).
    this._storage.delete(key);
    this._storage.set(key, rec);
    if (++this.writes >= SWEEP_EVERY || this._storage.size > this.maxKeys) this.sweep();
    return new RateLimiterRes(0, ms === 0 ? -1 : ms, rec.value, true);
  }

  get(key: string): RateLimiterRes | null {
    const r = this._storage.get(key);
    if (!r) return null;
    const ms = r.expiresAt === null ? -1 : r.expiresAt - this.now();
    if (r.expiresAt !== null && ms <= 0) {
      this._storage.delete(key);
      return null;
    }
    return new RateLimiterRes(0, ms, r.value, false);
  }

  delete(key: string): boolean {
    return this._storage.delete(key);
  }

  get size(): number {
    return this._storage.size;
  }

  /** Drops expired records from the head and, past maxKeys, the oldest down to 90% of it. */
  private sweep(): void {
    this.writes = 0;
    const now = this.now();
    const m = this._storage;
    const target = m.size > this.maxKeys ? Math.floor(this.maxKeys * EVICT_TO) : m.size;
    for (const [k, r] of m) {
      if (m.size > target || (r.expiresAt !== null && r.expiresAt <= now)) m.delete(k);
      else break;
    }
  }
}

/** Options of {@link BoundedRateLimiterMemory}: the library's, plus the key bound. */
export interface BoundedMemoryOptions {
  points: number;
  /** Window in seconds. */
  duration: number;
  keyPrefix?: string;
  maxKeys: number;
}

/**
 * A RateLimiterMemory that holds at most `maxKeys` keys.
 *
 * @example
 * const l = new BoundedRateLimiterMemory({ points: 10, duration: 60, maxKeys: 100_000 });
 * await l.consume('203.0.113.9'); // rejects with a RateLimiterRes past 10 a minute
 */
export class BoundedRateLimiterMemory extends RateLimiterMemory {
  readonly storage: BoundedMemoryStorage;

  constructor(opts: BoundedMemoryOptions) {
    super({ points: opts.points, duration: opts.duration, keyPrefix: opts.keyPrefix });
    this.storage = new BoundedMemoryStorage(opts.maxKeys);
    // The library's storage field (rate-limiter-flexible 11.x); test/limits/bounded-memory.test.ts
    // fails if an upgrade stops using it.
    (this as unknown as { _memoryStorage: unknown })._memoryStorage = this.storage;
  }
}
