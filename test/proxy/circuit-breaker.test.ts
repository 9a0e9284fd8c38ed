import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CircuitBreaker } from '../../src/proxy/circuit-breaker.js';

test('opens after consecutive failures, probes once after cooldown, closes on success', () => {
  let now = 0;
  const states: string[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => now, onStateChange: (s) => states.push(s) });
  b.failure();
  b.success();
  b.failure();
  b.failure();
  assert.equal(b.state, 'closed');
  b.failure();
  assert.equal(b.state, 'open');
  assert.equal(b.tryAcquire(), false);
  assert.equal(b.retryAfterMs(), 1000);
  now = 1000;
  assert.equal(b.tryAcquire(), true);
  assert.equal(b.state, 'half-open');
  assert.equal(b.tryAcquire(), false, 'one probe at a time');
  b.failure();
  assert.equal(b.state, 'open');
  now = 2500;
  assert.equal(b.tryAcquire(), true);
  b.success();
  assert.equal(b.state, 'closed');
  assert.deepEqual(states, ['open', 'half-open', 'open', 'half-open', 'closed']);
});

test('a released probe frees the slot', () => {
  let now = 0;
  const b = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 10, now: () => now });
  b.failure();
  now = 10;
  assert.equal(b.tryAcquire(), true);
  b.release();
  assert.equal(b.tryAcquire(), true);
});
