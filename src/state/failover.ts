/**
 * The state store of a gateway configured with Redis: Redis while it answers, local
 * memory while it does not (policy `local`), and back to Redis when it returns. It is
 * also the one place that knows and reports which backend serves: a log line on every
 * change, and `health()` for /healthz and the metrics gauge.
 */
import { GatewayError } from '../pipeline/errors.js';
import type { Logger } from '../services.js';
import type { StoreFailurePolicy } from './config.js';
import { MemoryStore } from './memory.js';
import { isUnreachable, RedisStore } from './redis.js';
import type { StateStore } from './store.js';

/** What serves state now. */
export interface StateHealth {
  kind: 'memory' | 'redis';
  /** `redis` when Redis answers; `local` when the gateway runs on local memory instead. */
  backend: 'redis' | 'local';
  /** 1 when the configured backend serves, 0 when degraded (the gauge value). */
  up: 0 | 1;
  /** Date.now() of the last change of backend. */
  since: number;
  /** How many times the gateway has fallen back to local state since start. */
  failovers: number;
  onStoreFailure: StoreFailurePolicy;
}

/** A store that can report its health (both implementations in this folder). */
export interface HealthReporting {
  health(): StateHealth;
}

/**
 * Redis with a local fallback.
 *
 * @example
 * const store = new FailoverStore(new RedisStore(opts), new MemoryStore(), 'local', logger);
 * await store.waitReady(2000);
 * store.health().backend; // 'redis' | 'local'
 */
export class FailoverStore implements StateStore, HealthReporting {
  readonly kind = 'redis' as const;
  private backend: 'redis' | 'local' = 'local';
  private since = Date.now();
  private failovers = 0;
  private readonly listeners = new Set<(h: StateHealth) => void>();
  private started = false;
  private probe?: NodeJS.Timeout;

  constructor(
    readonly redis: RedisStore,
    readonly local: MemoryStore,
    readonly policy: StoreFailurePolicy,
    private readonly logger: Logger,
  ) {
    const c = redis.client;
    c.on('ready', () => this.mark('redis'));
    c.on('close', () => this.mark('local'));
    c.on('end', () => this.mark('local'));
    if (redis.ready) this.mark('redis');
  }

  /** Waits for the first connection (at start), up to `timeoutMs`; logs when it is not there. */
  async waitReady(timeoutMs: number): Promise<boolean> {
    const ok = await this.redis.waitReady(timeoutMs);
    this.started = true;
    if (!ok) this.announce();
    return ok;
  }

  /** True while Redis is found unreachable and local memory serves (cheap: no object). */
  get degraded(): boolean {
    return this.backend !== 'redis';
  }

  health(): StateHealth {
    return {
      kind: 'redis',
      backend: this.backend,
      up: this.backend === 'redis' ? 1 : 0,
      since: this.since,
      failovers: this.failovers,
      onStoreFailure: this.policy,
    };
  }

  /** Calls `fn` on every change of backend. Returns a function that unsubscribes. */
  onChange(fn: (h: StateHealth) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Reports a failed Redis command seen elsewhere (a limiter fell back to memory). The
   * connection may still look up (a hung Redis), so a probe checks until Redis answers.
   */
  noteUnreachable(): void {
    this.mark('local');
  }

  private startProbe(): void {
    if (this.probe) return;
    this.probe = setInterval(() => {
      if (!this.redis.ready) return; // the 'ready' event will tell
      this.redis.client.ping().then(
        () => this.mark('redis'),
        () => {},
      );
    }, 1000);
    this.probe.unref();
  }

  private mark(backend: 'redis' | 'local'): void {
    if (this.backend === backend) return;
    this.backend = backend;
    if (backend === 'local') this.startProbe();
    else {
      clearInterval(this.probe);
      this.probe = undefined;
    }
    this.since = Date.now();
    if (backend === 'local') this.failovers++;
    if (this.started || backend === 'redis') this.announce();
    const h = this.health();
    for (const fn of this.listeners) {
      try {
        fn(h);
      } catch (err) {
        this.logger.error({ err }, 'state health listener failed');
      }
    }
  }

  private announce(): void {
    if (this.backend === 'redis') {
      this.logger.info({ state: 'redis' }, 'state store: Redis is reachable; limits and state are shared again');
    } else {
      const what =
        this.policy === 'local'
          ? 'limiting on local memory (each replica enforces its share of every limit)'
          : this.policy === 'deny'
            ? 'refusing limited requests (onStoreFailure: deny)'
            : 'admitting requests without limits (onStoreFailure: allow)';
      this.logger.warn({ state: 'local', onStoreFailure: this.policy }, `state store: Redis is unreachable; ${what}`);
    }
  }

  private async run<T>(op: (s: StateStore) => Promise<T>): Promise<T> {
    if (this.redis.ready) {
      try {
        const r = await op(this.redis);
        // Answers again after a timeout that did not drop the connection.
        if (this.backend !== 'redis') this.mark('redis');
        return r;
      } catch (err) {
        if (!isUnreachable(err)) throw err;
        // A timeout on a connected client: treat as down until ioredis says ready again.
        this.mark('local');
      }
    }
    if (this.policy === 'deny') throw new GatewayError('PALISADE_STATE_UNAVAILABLE');
    return op(this.local);
  }

  get(key: string): Promise<string | undefined> {
    return this.run((s) => s.get(key));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.run((s) => s.set(key, value, ttlMs));
  }

  del(key: string): Promise<void> {
    return this.run((s) => s.del(key));
  }

  incr(key: string, by: number, ttlMs: number): Promise<number> {
    return this.run((s) => s.incr(key, by, ttlMs));
  }

  addDecaying(key: string, delta: number, halfLifeMs: number, now: number, max?: number): Promise<number> {
    return this.run((s) => s.addDecaying(key, delta, halfLifeMs, now, max));
  }

  pushBounded(key: string, item: string, maxLen: number, ttlMs: number): Promise<void> {
    return this.run((s) => s.pushBounded(key, item, maxLen, ttlMs));
  }

  list(key: string): Promise<string[]> {
    return this.run((s) => s.list(key));
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.started = false;
    clearInterval(this.probe);
    this.probe = undefined;
    await Promise.allSettled([this.redis.close(), this.local.close()]);
  }
}
