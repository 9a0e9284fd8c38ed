/**
 * Admission control on its own: the in-flight bound, the FIFO queue and its timeout,
 * reconfiguration, shutdown, and shedding while the event loop lags (lag induced for
 * real by blocking this process's loop).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { Admission, overloadConfigSchema, type OverloadConfig } from '../../src/server/overload.js';

const cfg = (o: Record<string, unknown> = {}): OverloadConfig => overloadConfigSchema.parse({ maxEventLoopDelay: 0, ...o });

test('admits up to maxInFlight at once, queues up to maxQueued, sheds the rest', async () => {
  const a = new Admission(cfg({ maxInFlight: 2, maxQueued: 2 }));
  try {
    assert.equal(a.enter(), undefined);
    assert.equal(a.enter(), undefined);
    const q1 = a.enter();
    const q2 = a.enter();
    assert.ok(q1 instanceof Promise && q2 instanceof Promise);
    assert.equal(a.enter(), 'queue-full');
    assert.equal(a.queued, 2);
    const order: string[] = [];
    void q1.then((r) => order.push(`q1:${r}`));
    void q2.then((r) => order.push(`q2:${r}`));
    a.leave();
    await q1;
    assert.deepEqual(order, ['q1:undefined'], 'the oldest waiter goes first');
    assert.equal(a.inFlight, 2, 'the slot passed to the waiter');
    a.leave();
    await q2;
    assert.deepEqual(order, ['q1:undefined', 'q2:undefined']);
    assert.equal(a.queued, 0);
    assert.equal(a.shed['queue-full'], 1);
  } finally {
    a.close();
  }
});

test('a request past a full in-flight bound with no queue is shed at once', () => {
  const a = new Admission(cfg({ maxInFlight: 1, maxQueued: 0 }));
  try {
    assert.equal(a.enter(), undefined);
    assert.equal(a.enter(), 'in-flight');
    a.leave();
    assert.equal(a.enter(), undefined, 'a freed slot is usable again');
  } finally {
    a.close();
  }
});

test('a waiter past queueTimeout is shed; a slot freed later goes to the next one', async () => {
  const a = new Admission(cfg({ maxInFlight: 1, maxQueued: 5, queueTimeout: 30 }));
  try {
    assert.equal(a.enter(), undefined);
    assert.equal(await a.enter(), 'queue-timeout');
    assert.equal(a.queued, 0, 'the timed-out waiter left the queue');
    const next = a.enter();
    a.leave();
    assert.equal(await next, undefined);
    assert.equal(a.inFlight, 1);
    assert.equal(a.shed['queue-timeout'], 1);
  } finally {
    a.close();
  }
});

test('no one jumps the queue: a newcomer waits behind waiters even when a slot is free', async () => {
  const a = new Admission(cfg({ maxInFlight: 1, maxQueued: 5 }));
  try {
    a.enter();
    const waiter = a.enter();
    a.leave();
    assert.equal(await waiter, undefined);
    const newcomer = a.enter();
    assert.ok(newcomer instanceof Promise);
    a.leave();
    assert.equal(await newcomer, undefined);
  } finally {
    a.close();
  }
});

test('configure with a larger bound admits waiters at once; close refuses the rest', async () => {
  const a = new Admission(cfg({ maxInFlight: 1, maxQueued: 5 }));
  a.enter();
  const w1 = a.enter();
  const w2 = a.enter();
  const w3 = a.enter();
  a.configure(cfg({ maxInFlight: 3, maxQueued: 5 }));
  assert.equal(await w1, undefined);
  assert.equal(await w2, undefined);
  a.close();
  assert.equal(await w3, 'queue-full');
});

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('sheds while the event loop lags past maxEventLoopDelay for two samples, and recovers', async () => {
  const a = new Admission(cfg({ maxEventLoopDelay: 20, sampleInterval: 25 }));
  try {
    busy(200); // one long pause alone does not shed
    await sleep(30);
    assert.equal(a.enter(), undefined);
    a.leave();
    for (let i = 0; i < 40 && !a.lagging; i++) {
      busy(60);
      await yieldLoop();
      await sleep(1);
    }
    assert.ok(a.lagging, `lagging (last sample ${a.eventLoopDelayMs} ms)`);
    assert.equal(a.enter(), 'event-loop-delay');
    for (let i = 0; i < 100 && a.lagging; i++) await sleep(10);
    assert.equal(a.lagging, false, 'recovered once the loop is idle');
    assert.equal(a.enter(), undefined);
    a.leave();
    assert.ok(a.shed['event-loop-delay'] >= 1);
  } finally {
    a.close();
  }
});

test('a standing queue (not drained for a whole queueTimeout) takes no newcomers: they are shed at once', async () => {
  const a = new Admission(cfg({ maxInFlight: 1, maxQueued: 10, queueTimeout: 300 }));
  try {
    a.enter();
    const first = a.enter();
    await sleep(200);
    const second = a.enter();
    assert.ok(second instanceof Promise, 'a young queue still takes waiters');
    assert.equal(await first, 'queue-timeout');
    await sleep(10);
    assert.equal(a.enter(), 'queue-standing', 'the queue has not been empty for longer than queueTimeout');
    assert.equal(await second, 'queue-timeout');
    const third = a.enter();
    assert.ok(third instanceof Promise, 'once drained, the queue takes waiters again');
    a.leave();
    assert.equal(await third, undefined);
    assert.equal(a.shed['queue-standing'], 1);
  } finally {
    a.close();
  }
});
