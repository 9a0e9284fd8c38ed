import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseListen, parseRate, parseSize } from '../../src/config/units.js';

test('durations parse to milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration(42), 42);
  assert.equal(parseDuration('5x'), undefined);
  assert.equal(parseDuration(-1), undefined);
});

test('sizes parse to bytes', () => {
  assert.equal(parseSize('1mb'), 1024 * 1024);
  assert.equal(parseSize('64KB'), 65536);
  assert.equal(parseSize(10), 10);
  assert.equal(parseSize('1 tb'), undefined);
});

test('rates parse to points per window', () => {
  assert.deepEqual(parseRate('60/m'), { points: 60, windowMs: 60_000 });
  assert.deepEqual(parseRate('100/30s'), { points: 100, windowMs: 30_000 });
  assert.equal(parseRate('0/s'), undefined);
  assert.equal(parseRate('ten/s'), undefined);
});

test('listen addresses', () => {
  assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListen('[::1]:9090'), { host: '::1', port: 9090 });
  assert.deepEqual(parseListen(':80'), { host: '0.0.0.0', port: 80 });
  assert.equal(parseListen('host'), undefined);
  assert.equal(parseListen('h:70000'), undefined);
});
