/**
 * rate-limiter-flexible's RateLimiterMemory with a bounded store. The library keeps one
 * record and one timer per key until its window ends, so a flood of distinct keys (one
 * per spoofed address) grows memory with the flood. Here the storage is a Map in
 * expiry order without timers: each write drops expired records from the head, and past
 * `maxKeys` the oldest record goes (the one closest to its reset). The limiting itself
 * (consume, reward, penalty, rejection) stays the library's.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

interface Rec {
  value: number;
  /** ms since the epoch, or null for no expiry. */
  expiresAt: number | null;
}

/** Drop at most this many expired records per write: amortized O(1), and it keeps up. */
const SWEEP_PER_WRITE = 4;

/**
 * The storage interface RateLimiterMemory calls (`incrby`, `set`, `get`, `delete`, and
 * `_storage` for dump), bounded.
 */
export class BoundedMemoryStorage {
  /** Named as the library's, which `dump()` reads. */
  readonly _storage = new Map<string, Rec>();

  constructor(
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  incrby(key: string, value: number, durationSec: number): RateLimiterRes {
    const r = this._storage.get(key);
    if (r) {
      const ms = r.expiresAt === null ? -1 : r.expiresAt - this.now();
      if (r.expiresAt === null || ms > 0) {
        r.value += value;
        return new RateLimiterRes(0, ms, r.value, false);
      }
    }
    return this.set(key, value, durationSec);
  }

  set(key: string, value: number, durationSec: number): RateLimiterRes {
    const ms = durationSec * 1000;
    const rec: Rec = { value: Math.trunc(value), expiresAt: ms > 0 ? this.now() + ms : null };
    // Re-append so that Map order stays expiry order (windows of one limiter are equal).
    this._storage.delete(key);
    this._storage.set(key, rec);
    this.sweep();
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

  private sweep(): void {
    const now = this.now();
    let n = 0;
    for (const [k, r] of this._storage) {
      if (n++ >= SWEEP_PER_WRITE || r.expiresAt === null || r.expiresAt > now) break;
      this._storage.delete(k);
    }
    while (this._storage.size > this.maxKeys) {
      const first = this._storage.keys().next().value;
      if (first === undefined) break;
      this._storage.delete(first);
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
