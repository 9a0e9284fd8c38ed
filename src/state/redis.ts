/**
 * The shared StateStore on Redis (ioredis). Every operation that reads and writes is
 * one Lua script, so replicas never race on a counter, a decaying score or a bounded
 * list. The client fails fast while disconnected (no offline queue) and every command
 * has a timeout: callers (the failover wrapper, the limiters) decide what to do then.
 */
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { StateStore } from './store.js';

// INCRBYFLOAT returns the value as text, exactly; the TTL is set only when the key is new
// (same contract as MemoryStore.incr).
const INCR = `
local v = redis.call('incrbyfloat', KEYS[1], ARGV[1])
if redis.call('pttl', KEYS[1]) < 0 then redis.call('pexpire', KEYS[1], ARGV[2]) end
return v`;

// A hash {v, at}: the value and when it was computed. Decay is applied on every access
// with the caller's clock; the key lives ten half-lives past its last write, like the
// memory store. Numbers go back as text: a Lua number reply would be truncated to an integer.
const ADD_DECAYING = `
local delta = tonumber(ARGV[1])
local half = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local h = redis.call('hmget', KEYS[1], 'v', 'at')
local cur = 0
if h[1] then
  local v = tonumber(h[1])
  local at = tonumber(h[2]) or now
  if v > 0 then cur = v * math.pow(0.5, math.max(0, now - at) / half) end
end
local v = math.min(max, math.max(0, cur + delta))
if delta ~= 0 or h[1] then
  redis.call('hset', KEYS[1], 'v', string.format('%.17g', v), 'at', string.format('%d', now))
  redis.call('pexpire', KEYS[1], math.floor(half * 10))
end
return string.format('%.17g', v)`;

const PUSH_BOUNDED = `
redis.call('rpush', KEYS[1], ARGV[1])
redis.call('ltrim', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('pexpire', KEYS[1], ARGV[3])
return 1`;

interface Scripts {
  palisadeIncr(key: string, by: string, ttlMs: string): Promise<string>;
  palisadeAddDecaying(key: string, delta: string, halfLifeMs: string, now: string, max: string): Promise<string>;
  palisadePushBounded(key: string, item: string, maxLen: string, ttlMs: string): Promise<number>;
}

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  url: string;
  /** Prefix of every key (ioredis applies it, to the limiters' keys too). */
  keyPrefix: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/**
 * A StateStore on Redis.
 *
 * @example
 * const s = new RedisStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'palisade:', connectTimeoutMs: 2000, commandTimeoutMs: 250 });
 * await s.waitReady(2000);
 * await s.addDecaying('risk:alice', 0.2, 600_000, Date.now());
 */
export class RedisStore implements StateStore {
  readonly kind = 'redis' as const;
  /** The ioredis client (shared with the Redis rate limiters). */
  readonly client: Redis & Scripts;

  constructor(readonly opts: RedisStoreOptions) {
    const options: RedisOptions = {
      keyPrefix: opts.keyPrefix,
      connectTimeout: opts.connectTimeoutMs,
      commandTimeout: opts.commandTimeoutMs,
      // Fail fast while disconnected: a queued command would hold a request until Redis
      // returns; the caller falls back instead.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Keep trying to reconnect forever, at most every 2 s.
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      lazyConnect: false,
    };
    const client = new Redis(opts.url, options);
    // Errors surface as failed commands and status changes; an unhandled 'error' event
    // would only make ioredis print to stderr.
    client.on('error', () => {});
    client.defineCommand('palisadeIncr', { numberOfKeys: 1, lua: INCR });
    client.defineCommand('palisadeAddDecaying', { numberOfKeys: 1, lua: ADD_DECAYING });
    client.defineCommand('palisadePushBounded', { numberOfKeys: 1, lua: PUSH_BOUNDED });
    this.client = client as Redis & Scripts;
  }

  /** True when commands can be sent now. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Resolves true once connected, or false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.client.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const t = setTimeout(() => done(false), timeoutMs);
      t.unref();
      this.client.on('ready', onReady);
    });
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async del(key: string): Promise<void> {
    await this.client.del(key);
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    return Number(await this.client.palisadeIncr(key, String(by), String(Math.max(1, Math.round(ttlMs)))));
  }

  async addDecaying(key: string, delta: number, halfLifeMs: number, now: number, max = 1): Promise<number> {
    const v = await this.client.palisadeAddDecaying(key, String(delta), String(halfLifeMs), String(Math.round(now)), String(max));
    return Number(v);
  }

  async pushBounded(key: string, item: string, maxLen: number, ttlMs: number): Promise<void> {
    await this.client.palisadePushBounded(key, item, String(maxLen), String(Math.max(1, Math.round(ttlMs))));
  }

  async list(key: string): Promise<string[]> {
    return this.client.lrange(key, 0, -1);
  }

  async close(): Promise<void> {
    // quit waits for pending replies; when disconnected it cannot, so disconnect.
    if (this.ready) await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}

/**
 * Whether an error means "Redis is not reachable" (connection, timeout) rather than
 * "Redis answered no" (a ReplyError, e.g. WRONGTYPE): only the former triggers failover.
 */
export function isUnreachable(err: unknown): boolean {
  return !(err instanceof ReplyError);
}
