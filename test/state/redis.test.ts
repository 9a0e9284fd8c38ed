import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../src/state/memory.js';
import { RedisStore } from '../../src/state/redis.js';
import type { StateStore } from '../../src/state/store.js';
import { cleanup, keyPrefix, REDIS_SKIP, REDIS_URL, redisClient } from '../helpers/redis.js';

const HOUR = 3_600_000;

function redisStore(prefix: string): RedisStore {
  return new RedisStore({ url: REDIS_URL, keyPrefix: prefix, connectTimeoutMs: 1000, commandTimeoutMs: 1000 });
}

/** The same contract, checked on both stores. */
async function contract(s: StateStore): Promise<void> {
  assert.equal(await s.get('k'), undefined);
  await s.set('k', 'v', HOUR);
  assert.equal(await s.get('k'), 'v');
  await s.del('k');
  assert.equal(await s.get('k'), undefined);

  assert.equal(await s.incr('c', 2, HOUR), 2);
  assert.equal(await s.incr('c', 3, HOUR), 5);
  assert.equal(await s.incr('c', -1.5, HOUR), 3.5);

  // Decaying: one half-life halves it; clamped to [0, max]; delta 0 reads.
  const t0 = Date.now();
  assert.equal(await s.addDecaying('r', 0, 1000, t0), 0);
  assert.equal(await s.addDecaying('r', 0.8, 1000, t0), 0.8);
  assert.ok(Math.abs((await s.addDecaying('r', 0, 1000, t0 + 1000)) - 0.4) < 1e-9);
  assert.ok(Math.abs((await s.addDecaying('r', 0.1, 1000, t0 + 2000)) - 0.3) < 1e-9);
  assert.equal(await s.addDecaying('r', 5, 1000, t0 + 2000), 1);
  assert.equal(await s.addDecaying('r', -5, 1000, t0 + 2000), 0);
  assert.equal(await s.addDecaying('r2', 3, 1000, t0, 10), 3);

  for (let i = 0; i < 5; i++) await s.pushBounded('l', `x${i}`, 3, HOUR);
  assert.deepEqual(await s.list('l'), ['x2', 'x3', 'x4']);
  assert.deepEqual(await s.list('none'), []);
}

test('MemoryStore keeps the StateStore contract', async () => {
  const s = new MemoryStore();
  await contract(s);
  await s.close();
});

test('RedisStore keeps the StateStore contract', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('store');
  const s = redisStore(prefix);
  try {
    assert.ok(await s.waitReady(2000));
    await contract(s);
    // Keys carry the prefix and a TTL.
    const c = redisClient();
    try {
      const ttl = await c.pttl(`${prefix}c`);
      assert.ok(ttl > 0 && ttl <= HOUR, `ttl ${ttl}`);
      assert.ok((await c.pttl(`${prefix}r`)) > 0);
    } finally {
      c.disconnect();
    }
  } finally {
    await s.close();
    await cleanup(prefix);
  }
});

test('RedisStore: counters and decaying scores do not race across clients', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('race');
  const a = redisStore(prefix);
  const b = redisStore(prefix);
  try {
    await Promise.all([a.waitReady(2000), b.waitReady(2000)]);
    const now = Date.now();
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const s = i % 2 ? a : b;
      ops.push(s.incr('n', 1, HOUR), s.addDecaying('risk', 0.001, HOUR * 1000, now, 10), s.pushBounded('l', String(i), 50, HOUR));
    }
    await Promise.all(ops);
    assert.equal(await a.incr('n', 0, HOUR), 200);
    assert.ok(Math.abs((await b.addDecaying('risk', 0, HOUR * 1000, now, 10)) - 0.2) < 1e-9);
    assert.equal((await a.list('l')).length, 50);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await cleanup(prefix);
  }
});

test('RedisStore: a wrong-type key is an answer (ReplyError), not a connection failure', { skip: REDIS_SKIP }, async () => {
  const prefix = keyPrefix('wrongtype');
  const s = redisStore(prefix);
  try {
    await s.waitReady(2000);
    await s.pushBounded('l', 'x', 3, HOUR);
    const { isUnreachable } = await import('../../src/state/redis.js');
    const err = await s.incr('l', 1, HOUR).then(() => undefined, (e: unknown) => e);
    assert.ok(err);
    assert.equal(isUnreachable(err), false);
  } finally {
    await s.close();
    await cleanup(prefix);
  }
});
