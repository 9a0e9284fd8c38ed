/**
 * Redis for tests: whether the shared Redis (127.0.0.1:6379, or PALISADE_REDIS_URL)
 * answers, a unique key prefix per test and its cleanup, and a private redis-server that
 * a test can stop and start again.
 *
 * Without Redis, Redis tests skip with a clear message; with PALISADE_REQUIRE_REDIS=1
 * (CI), they fail instead.
 *
 * @example
 * import { REDIS_SKIP, REDIS_URL, keyPrefix, cleanup } from '../helpers/redis.js';
 * test('counts in Redis', { skip: REDIS_SKIP }, async () => { const p = keyPrefix('x'); try { ... } finally { await cleanup(p); } });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../bench/lib/proc.js';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.PALISADE_REDIS_URL ?? 'redis://127.0.0.1:6379';

async function ping(url: string, timeoutMs = 1000): Promise<boolean> {
  const c = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

const available = await ping(REDIS_URL);
if (!available && process.env.PALISADE_REQUIRE_REDIS === '1') {
  throw new Error(`Redis is required (PALISADE_REQUIRE_REDIS=1) but does not answer at ${REDIS_URL}`);
}

/** For `test(name, { skip: REDIS_SKIP }, ...)`: false when Redis answers, else why the test skips. */
export const REDIS_SKIP: string | false = available
  ? false
  : `Redis does not answer at ${REDIS_URL}: start it (redis-server) or set PALISADE_REDIS_URL; PALISADE_REQUIRE_REDIS=1 makes this a failure`;

/** A key prefix no other test (or run) uses. */
export function keyPrefix(name: string): string {
  return `palisade-test:${name}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function cleanup(prefix: string, url = REDIS_URL): Promise<number> {
  const c = new Redis(url, { maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  try {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await c.del(...keys);
    } while (cursor !== '0');
    return n;
  } finally {
    c.disconnect();
  }
}

/** A client for looking at keys directly (disconnect it). */
export function redisClient(url = REDIS_URL): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  return c;
}

/** A free TCP port on 127.0.0.1 (the bench's helper). */
export { freePort };

/** A redis-server of the test's own, without persistence, that it can stop and start. */
export interface PrivateRedis {
  port: number;
  url: string;
  /** Stops it (SIGTERM) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was saved). */
  start(): Promise<void>;
}

/** Whether `redis-server` can be run here. */
export const REDIS_SERVER_SKIP: string | false = await new Promise<string | false>((resolve) => {
  const p = spawn('redis-server', ['--version'], { stdio: 'ignore' });
  p.once('error', () => resolve('redis-server is not installed: the test starts and stops one of its own'));
  p.once('exit', (code) => resolve(code === 0 ? false : 'redis-server --version failed'));
});

/** Starts `redis-server --port N --save ''` on a free port and waits until it answers. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await ping(url, 200)) return;
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} did not answer`);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  await start();
  return { port, url, stop, start };
}
