import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FailoverStore } from '../../src/state/failover.js';
import { MemoryStore } from '../../src/state/memory.js';
import { RedisStore } from '../../src/state/redis.js';
import type { StoreFailurePolicy } from '../../src/state/config.js';
import { captureLogger, until } from '../helpers/log.js';
import { freePort, REDIS_SERVER_SKIP, redisClient, startPrivateRedis } from '../helpers/redis.js';

const HOUR = 3_600_000;

function failover(url: string, policy: StoreFailurePolicy = 'local') {
  const logger = captureLogger();
  const store = new FailoverStore(
    new RedisStore({ url, keyPrefix: 't:', connectTimeoutMs: 500, commandTimeoutMs: 500 }),
    new MemoryStore(),
    policy,
    logger,
  );
  return { store, logger };
}

test('a Redis that never answers: state is served locally, and health says so', async () => {
  const port = await freePort();
  const { store, logger } = failover(`redis://127.0.0.1:${port}`);
  try {
    assert.equal(await store.waitReady(300), false);
    assert.equal(store.health().backend, 'local');
    assert.equal(store.health().up, 0);
    assert.equal(await store.incr('n', 1, HOUR), 1);
    assert.equal(await store.incr('n', 1, HOUR), 2);
    assert.ok(logger.has('warn', /Redis is unreachable; limiting on local memory/));
  } finally {
    await store.close();
  }
});

test('onStoreFailure deny: state operations fail with PALISADE_STATE_UNAVAILABLE while Redis is away', async () => {
  const port = await freePort();
  const { store } = failover(`redis://127.0.0.1:${port}`, 'deny');
  try {
    await store.waitReady(200);
    await assert.rejects(store.incr('n', 1, HOUR), { code: 'PALISADE_STATE_UNAVAILABLE', status: 503 });
  } finally {
    await store.close();
  }
});

test('Redis stopped and started again: local meanwhile, then back on Redis', { skip: REDIS_SERVER_SKIP, timeout: 30_000 }, async () => {
  const redis = await startPrivateRedis();
  const { store, logger } = failover(redis.url);
  const changes: string[] = [];
  store.onChange((h) => changes.push(h.backend));
  const peek = redisClient(redis.url);
  try {
    assert.equal(await store.waitReady(2000), true);
    assert.equal(store.health().backend, 'redis');
    assert.equal(await store.incr('n', 1, HOUR), 1);
    assert.equal(await peek.get('t:n'), '1');

    await redis.stop();
    await until(() => store.health().backend === 'local', 'fallback to local');
    // No operation fails while Redis is away.
    assert.equal(await store.incr('n', 5, HOUR), 5);
    assert.equal(await store.addDecaying('risk:a', 0.5, HOUR, Date.now()), 0.5);
    assert.ok(logger.has('warn', /Redis is unreachable/));
    assert.equal(store.health().failovers, 1);

    await redis.start();
    await until(() => store.health().backend === 'redis', 'back on Redis');
    assert.ok(logger.has('info', /Redis is reachable/));
    // The new (empty) Redis serves again.
    await until(async () => (await store.incr('m', 1, HOUR)) >= 1, 'a command on Redis');
    assert.equal(await peek.get('t:m'), '1');
    assert.deepEqual(changes, ['redis', 'local', 'redis']);
  } finally {
    peek.disconnect();
    await store.close();
    await redis.stop();
  }
});
