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
import { BoundedRateLimiterMemory, type BoundedMemoryStorage } from './bounded-memory.js';

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
  /**
   * Take all the counters of a request in one Redis round trip (one Lua script), default
   * true. false: one round trip per counter (the library's script), kept for the A/B bench.
   */
  batch?: boolean;
  /** True while the state store has found Redis unreachable (FailoverStore health). */
  degraded?: () => boolean;
}

/**
 * How the counters of a request are taken now:
 * - `memory`: all at once in this process ({@link LimiterRegistry.consumeAllLocal});
 * - `each`: one limiter call per counter (Redis with batching off, the A/B baseline);
 * - `batch`: all in one Redis script ({@link LimiterRegistry.consumeAll});
 * - `local`: Redis is away and policy `local`: all at once on the counters' memory insurance;
 * - `down`: Redis is away and there is no insurance: the failure policy decides.
 */
export type CountingRoute = 'memory' | 'each' | 'batch' | 'local' | 'down';

/**
 * One counter of a request in {@link LimiterRegistry.consumeAll}.
 * - `count`: a request counter: the attempt is counted even when refused; with `burst`,
 *   once the counter is over, the burst counter is counted too and refuses only when it
 *   is over as well (BurstyRateLimiter's rule);
 * - `take`: all or nothing: refused without counting when it does not fit, and given back
 *   when a later counter of the same request refuses.
 */
export interface BatchOp {
  mode: 'count' | 'take';
  /** A limiter of this registry (its key prefix, points and window). */
  limiter: RateLimiterAbstract;
  burst?: RateLimiterAbstract;
  key: string;
  /** What the op costs in units (1 request, or tokens); points = units x the unit cost. */
  units: number;
  /** Window of a key created now, in seconds (default: the limiter's). */
  durationSec?: number;
}

/** What one op found, in the library's terms. */
export interface BatchOpResult {
  /** Points consumed on the key, including this request's (also when refused). */
  consumed: number;
  msBeforeNext: number;
  over: boolean;
  /** `count` with burst, when the burst counter was counted. */
  burst?: { consumed: number; msBeforeNext: number };
}

/**
 * Result of {@link LimiterRegistry.consumeAll}: `refused` is the index of the op that
 * refused, -1 for none, or -2 when the risk factor is 0 (nothing counted).
 */
export interface BatchResult {
  refused: number;
  /** Points one unit cost (given, or derived from the risk). */
  unitCost: number;
  /** The principal's risk score and its factor (0 and 1 without a risk read). */
  score: number;
  factor: number;
  results: BatchOpResult[];
}

/** How a unit's cost is derived from the principal's risk, in the same script as the counters. */
export interface RiskCost {
  /** State key of the score (`risk:p:<id>`). */
  key: string;
  halfLifeMs: number;
  now: number;
  /** Points of a unit at factor 1. */
  scale: number;
  /** Shrink steps, highest `atLeast` first. */
  steps: readonly { atLeast: number; factor: number }[];
}

/*
 * All counters of a request in one atomic step. ARGV header: [1] '1' keeps going past a
 * refusal and keeps what it counted (shadow mode); [2] the points one unit costs, or 0 to
 * derive it from the principal's risk: KEYS[1] is then its score (a hash {v, at} decaying
 * with half-life [3] at time [4], as the state store writes it), [5] the points of a unit
 * at factor 1, [6] the number of shrink steps, then (atLeast, factor) pairs, highest
 * first. Then six values per op: mode (c: count, b: count with burst, t: take), units,
 * window seconds, limit (points), burst window seconds, burst limit; KEYS: one per op
 * (and a burst key right after its request key). Keys are written as
 * rate-limiter-flexible's RateLimiterRedis writes them (an integer with a TTL), so the
 * library's reward, penalty and get keep working on them.
 * Reply: {refused op index (0-based), -1 for none, or -2 when the risk factor is 0 (no
 * access, nothing counted); points per unit; risk score; factor (both as text)}, then per
 * op: consumed, ms to reset, over (0/1), burst consumed, burst ms to reset.
 */
const CONSUME_ALL = `
local keep = ARGV[1] == '1'
local unit = tonumber(ARGV[2])
local nsteps = tonumber(ARGV[6])
local score, factor = 0, 1
local k = 1
if unit == 0 then
  local half, now = tonumber(ARGV[3]), tonumber(ARGV[4])
  local h = redis.call('hmget', KEYS[1], 'v', 'at')
  if h[1] then
    local v = tonumber(h[1])
    local at = tonumber(h[2]) or now
    if v > 0 then score = v * math.pow(0.5, math.max(0, now - at) / half) end
  end
  score = math.min(1, math.max(0, score))
  for i = 0, nsteps - 1 do
    if score >= tonumber(ARGV[7 + 2 * i]) then
      factor = tonumber(ARGV[8 + 2 * i])
      break
    end
  end
  local scale = tonumber(ARGV[5])
  if factor <= 0 then return {-2, 0, string.format('%.17g', score), string.format('%.17g', factor)} end
  if factor >= 1 then unit = scale else unit = math.floor(scale / factor + 0.5) end
  k = 2
end
local function incr(key, points, sec)
  redis.call('set', key, 0, 'EX', sec, 'NX')
  local c = redis.call('incrby', key, points)
  local ttl = redis.call('pttl', key)
  if ttl == -1 then
    redis.call('expire', key, sec)
    ttl = 1000 * sec
  end
  return c, ttl
end
local out = {-1, unit, string.format('%.17g', score), string.format('%.17g', factor)}
local taken = {}
local a, n = 7 + 2 * nsteps, 0
while a <= #ARGV do
  local mode, points, sec, limit = ARGV[a], tonumber(ARGV[a + 1]) * unit, tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local c, ttl, over, bc, bttl = 0, 0, 0, 0, 0
  if mode == 't' then
    local cur = tonumber(redis.call('get', KEYS[k]) or '0')
    if cur + points > limit and not keep then
      c = cur + points
      ttl = redis.call('pttl', KEYS[k])
      if ttl < 0 then ttl = 1000 * sec end
      over = 1
    else
      c, ttl = incr(KEYS[k], points, sec)
      if c > limit then over = 1 end
      taken[#taken + 1] = k
      taken[#taken + 1] = points
    end
    k = k + 1
  else
    c, ttl = incr(KEYS[k], points, sec)
    k = k + 1
    if mode == 'b' then
      if c > limit then
        bc, bttl = incr(KEYS[k], points, tonumber(ARGV[a + 4]))
        if bc > tonumber(ARGV[a + 5]) then over = 1 end
      end
      k = k + 1
    elseif c > limit then
      over = 1
    end
  end
  out[#out + 1] = c
  out[#out + 1] = ttl
  out[#out + 1] = over
  out[#out + 1] = bc
  out[#out + 1] = bttl
  if over == 1 and not keep then
    for i = 1, #taken, 2 do redis.call('decrby', KEYS[taken[i]], taken[i + 1]) end
    out[1] = n
    return out
  end
  n = n + 1
  a = a + 6
end
return out`;

/*
 * Settlement of a done request in one step: INCRBY per key (negative gives back), as the
 * library's reward and penalty do it (a key that expired meanwhile is created afresh
 * with its window). ARGV: per key, points and window seconds.
 */
const ADJUST_ALL = `
for i = 1, #KEYS do
  local sec = ARGV[2 * i]
  redis.call('set', KEYS[i], 0, 'EX', sec, 'NX')
  redis.call('incrby', KEYS[i], ARGV[2 * i - 1])
  if redis.call('pttl', KEYS[i]) == -1 then redis.call('expire', KEYS[i], sec) end
end
return #KEYS`;

interface BatchClient {
  palisadeConsumeAll(numKeys: number, ...args: string[]): Promise<(number | string)[]>;
  palisadeAdjustAll(numKeys: number, ...args: string[]): Promise<number>;
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
  private scriptDefined = false;

  constructor(private readonly opts: LimiterRegistryOptions = {}) {}

  /** Whether counters are shared through Redis (errors then follow `onStoreFailure`). */
  get shared(): boolean {
    return this.opts.redis !== undefined;
  }

  get onStoreFailure(): StoreFailurePolicy {
    return this.opts.onStoreFailure ?? 'local';
  }

  /**
   * How to count now (see {@link CountingRoute}). While the store reports Redis
   * unreachable (a lost connection, or a command timed out on a hung one) requests do not
   * wait on Redis: they count locally until the store's probe sees Redis answer again.
   */
  get route(): CountingRoute {
    const redis = this.opts.redis;
    if (!redis) return 'memory';
    if (this.opts.batch === false) return 'each';
    if (redis.status === 'ready' && !this.opts.degraded?.()) return 'batch';
    return this.onStoreFailure === 'local' ? 'local' : 'down';
  }

  /** Reports a Redis failure seen by the stage (the store then probes until Redis answers). */
  noteFailure(): void {
    this.opts.onFallback?.();
  }

  /**
   * Counts or takes every op in one Redis round trip, atomically, in order: a refusal
   * stops there (unless `keepGoing`), gives back what earlier `take`s took, and leaves
   * later ops untouched. A unit costs `cost` points, or (a {@link RiskCost}) what the
   * principal's risk makes it, read in the same step. Rejects when Redis fails (the
   * caller falls back).
   *
   * @example
   * const r = await reg.consumeAll([{ mode: 'count', limiter: req, key, units: 1 }, { mode: 'take', limiter: conc, key, units: 1 }], 1000);
   * if (r.refused >= 0) // r.results[r.refused] says why
   */
  async consumeAll(ops: readonly BatchOp[], cost: number | RiskCost, keepGoing = false): Promise<BatchResult> {
    const client = this.opts.redis as unknown as Redis & BatchClient;
    this.defineScripts(client);
    const keys: string[] = [];
    const args: string[] = [keepGoing ? '1' : '0'];
    if (typeof cost === 'number') args.push(String(cost), '0', '0', '0', '0');
    else {
      keys.push(cost.key);
      args.push('0', String(cost.halfLifeMs), String(Math.round(cost.now)), String(cost.scale), String(cost.steps.length));
      for (const st of cost.steps) args.push(String(st.atLeast), String(st.factor));
    }
    for (const op of ops) {
      const l = op.limiter;
      keys.push(l.getKey(op.key));
      const sec = String(Math.floor(op.durationSec ?? l.duration));
      if (op.burst) {
        keys.push(op.burst.getKey(op.key));
        args.push('b', String(op.units), sec, String(l.points), String(Math.floor(op.burst.duration)), String(op.burst.points));
      } else args.push(op.mode === 'take' ? 't' : 'c', String(op.units), sec, String(l.points), '0', '0');
    }
    const reply = await client.palisadeConsumeAll(keys.length, ...keys, ...args);
    const results: BatchOpResult[] = [];
    for (let i = 4; i + 4 < reply.length; i += 5) {
      const r: BatchOpResult = { consumed: Number(reply[i]), msBeforeNext: Number(reply[i + 1]), over: Number(reply[i + 2]) === 1 };
      if (Number(reply[i + 4]) > 0) r.burst = { consumed: Number(reply[i + 3]), msBeforeNext: Number(reply[i + 4]) };
      results.push(r);
    }
    return { refused: Number(reply[0]), unitCost: Number(reply[1]), score: Number(reply[2]), factor: Number(reply[3]), results };
  }

  /**
   * {@link consumeAll} on memory counters, synchronously, with the script's rules (the
   * same ops, the same result): the registry's own limiters, or (`insurance`) the memory
   * insurance of its Redis limiters while Redis is away. One pass over plain Maps instead
   * of a library call, a promise and a result object per counter.
   */
  consumeAllLocal(ops: readonly BatchOp[], unitCost: number, keepGoing = false, insurance = false): BatchResult {
    const results: BatchOpResult[] = [];
    let taken: { s: BoundedMemoryStorage; key: string; points: number; sec: number }[] | undefined;
    const memory = (l: RateLimiterAbstract): BoundedRateLimiterMemory => {
      const m = insurance ? this.insuranceOf(l) : l;
      if (!(m instanceof BoundedRateLimiterMemory)) throw new Error(`limiter ${l.keyPrefix} has no memory counters`);
      if (insurance) (m as Insurance).onUse?.();
      return m;
    };
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i];
      const l = memory(op.limiter);
      const key = l.getKey(op.key);
      const points = op.units * unitCost;
      const sec = Math.floor(op.durationSec ?? l.duration);
      let r: BatchOpResult;
      const st = l.storage;
      if (op.mode === 'take') {
        const cur = st.peek(key);
        const consumed = (cur ?? 0) + points;
        if (consumed > l.points && !keepGoing) r = { consumed, msBeforeNext: cur !== undefined && st.lastMs >= 0 ? st.lastMs : sec * 1000, over: true };
        else {
          const c = st.add(key, points, sec);
          r = { consumed: c, msBeforeNext: st.lastMs, over: c > l.points };
          (taken ??= []).push({ s: st, key, points, sec });
        }
      } else {
        const c = st.add(key, points, sec);
        r = { consumed: c, msBeforeNext: st.lastMs, over: c > l.points };
        if (op.burst && r.over) {
          const b = memory(op.burst);
          const bc = b.storage.add(b.getKey(op.key), points, Math.floor(b.duration));
          r.burst = { consumed: bc, msBeforeNext: b.storage.lastMs };
          r.over = bc > b.points;
        }
      }
      results.push(r);
      if (r.over && !keepGoing) {
        if (taken) for (const t of taken) t.s.add(t.key, -t.points, t.sec);
        return { refused: i, unitCost, score: 0, factor: 1, results };
      }
    }
    return { refused: -1, unitCost, score: 0, factor: 1, results };
  }

  /**
   * Adds `points` (negative: gives back) to each key in one Redis round trip, as the
   * library's penalty and reward would one by one. Rejects when Redis fails.
   */
  async adjustAll(changes: readonly { limiter: RateLimiterAbstract; key: string; points: number }[]): Promise<void> {
    const client = this.opts.redis as unknown as Redis & BatchClient;
    this.defineScripts(client);
    const keys = changes.map((c) => c.limiter.getKey(c.key));
    const args: string[] = [];
    for (const c of changes) args.push(String(Math.trunc(c.points)), String(Math.floor(c.limiter.duration)));
    await client.palisadeAdjustAll(keys.length, ...keys, ...args);
  }

  private defineScripts(client: Redis): void {
    if (this.scriptDefined) return;
    client.defineCommand('palisadeConsumeAll', { lua: CONSUME_ALL });
    client.defineCommand('palisadeAdjustAll', { lua: ADJUST_ALL });
    this.scriptDefined = true;
  }

  /** The memory limiter that stands in for `limiter` while Redis is away (policy `local`), if any. */
  insuranceOf(limiter: RateLimiterAbstract): RateLimiterAbstract | undefined {
    return (limiter as unknown as { insuranceLimiter?: RateLimiterAbstract }).insuranceLimiter;
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
    return new LimiterRegistry({
      redis: state.redis.client,
      onStoreFailure: state.policy,
      onFallback: () => state.noteUnreachable(),
      degraded: () => state.degraded,
    });
  }
  return new LimiterRegistry({});
}
