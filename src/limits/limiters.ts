/**
 * Where limit counters live: one rate-limiter-flexible limiter per counter, in memory
 * (bounded) or in Redis with a bounded memory "insurance" limiter that takes over while
 * Redis is unreachable (policy `local`). The registry outlives reloads (it is a
 * service), so a reload that keeps a counter's shape keeps its counts.
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { StoreFailurePolicy } from '../state/config.js';
import { FailoverStore } from '../state/failover.js';
import type { StateStore } from '../state/store.js';
import { BoundedRateLimiterMemory } from './bounded-memory.js';

/** The shape of one counter. */
export interface CounterSpec {
  /** Stable name, part of every key: `<rule>:<kind>`. */
  id: string;
  /** Points per window (already in the stage's scaled units). */
  points: number;
  /** Points a replica may use on its own while Redis is down (its share). */
  localPoints: number;
  /** Window in whole seconds (Redis TTLs are in seconds). */
  durationSec: number;
  /** Most keys its memory limiter holds. */
  maxKeys: number;
}

/** Options of {@link LimiterRegistry}. */
export interface LimiterRegistryOptions {
  /** The Redis client of the state store; absent for `state.kind: memory`. */
  redis?: Redis;
  onStoreFailure?: StoreFailurePolicy;
  /** Called when a counter had to fall back to memory (Redis failed a command). */
  onFallback?: () => void;
}

/** A RateLimiterMemory that reports its use as the insurance of a Redis limiter. */
class Insurance extends BoundedRateLimiterMemory {
  onUse?: () => void;
  override consume(key: string | number, points?: number, options?: Record<string, unknown>) {
    this.onUse?.();
    return super.consume(key, points, options);
  }
}

interface Entry {
  limiter: RateLimiterAbstract;
  refs: number;
}

/**
 * Limiters by spec, shared by every runtime of the process.
 *
 * @example
 * const reg = new LimiterRegistry({});
 * const l = reg.acquire({ id: 'chat:requests', points: 60, localPoints: 60, durationSec: 60, maxKeys: 100_000 });
 * await l.consume('p:alice');
 * reg.release(l);
 */
export class LimiterRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly byLimiter = new Map<RateLimiterAbstract, string>();

  constructor(private readonly opts: LimiterRegistryOptions = {}) {}

  /** Whether counters are shared through Redis (errors then follow `onStoreFailure`). */
  get shared(): boolean {
    return this.opts.redis !== undefined;
  }

  get onStoreFailure(): StoreFailurePolicy {
    return this.opts.onStoreFailure ?? 'local';
  }

  /** The limiter for `spec`, created once per distinct spec; pair with {@link release}. */
  acquire(spec: CounterSpec): RateLimiterAbstract {
    const sig = `${spec.id}\u0000${spec.points}\u0000${spec.localPoints}\u0000${spec.durationSec}\u0000${spec.maxKeys}`;
    let e = this.entries.get(sig);
    if (!e) {
      e = { limiter: this.create(spec), refs: 0 };
      this.entries.set(sig, e);
      this.byLimiter.set(e.limiter, sig);
    }
    e.refs++;
    return e.limiter;
  }

  /** Drops a limiter once no runtime uses it (its memory counters go with it). */
  release(limiter: RateLimiterAbstract): void {
    const sig = this.byLimiter.get(limiter);
    if (sig === undefined) return;
    const e = this.entries.get(sig)!;
    if (--e.refs <= 0) {
      this.entries.delete(sig);
      this.byLimiter.delete(limiter);
    }
  }

  /** The live limiter of a counter id (`<rule>:<kind>`), to read a count: `await l.get(key)`. */
  lookup(id: string): RateLimiterAbstract | undefined {
    for (const [sig, e] of this.entries) if (sig.startsWith(`${id}\u0000`)) return e.limiter;
    return undefined;
  }

  /** Number of live limiters (for tests). */
  get size(): number {
    return this.entries.size;
  }

  private create(spec: CounterSpec): RateLimiterAbstract {
    const keyPrefix = `lim:${spec.id}`;
    if (!this.opts.redis) {
      return new BoundedRateLimiterMemory({ points: spec.points, duration: spec.durationSec, keyPrefix, maxKeys: spec.maxKeys });
    }
    let insuranceLimiter: Insurance | undefined;
    if (this.onStoreFailure === 'local') {
      insuranceLimiter = new Insurance({ points: spec.localPoints, duration: spec.durationSec, keyPrefix, maxKeys: spec.maxKeys });
      insuranceLimiter.onUse = this.opts.onFallback;
    }
    return new RateLimiterRedis({
      storeClient: this.opts.redis,
      points: spec.points,
      duration: spec.durationSec,
      keyPrefix,
      // Not connected: go to the insurance (or fail, for deny/allow) at once instead of
      // sending a command that cannot be answered.
      rejectIfRedisNotReady: true,
      insuranceLimiter,
    } as ConstructorParameters<typeof RateLimiterRedis>[0]);
  }
}

/**
 * The registry for a state store: Redis counters (with the store's failure policy, and
 * fallbacks reported to its health) when the store is Redis, memory otherwise.
 */
export function createLimiterRegistry(state: StateStore): LimiterRegistry {
  if (state instanceof FailoverStore) {
    return new LimiterRegistry({ redis: state.redis.client, onStoreFailure: state.policy, onFallback: () => state.noteUnreachable() });
  }
  return new LimiterRegistry({});
}
