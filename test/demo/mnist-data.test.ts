import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MNIST_PIXELS, loadMnist, randomShift, selectIds, takeSubset } from '../../src/demo/mnist-data.js';
import { Rng } from '../../src/ml/rng.js';

describe('loadMnist', () => {
  const { all, train, test } = loadMnist();

  it('splits the 10,000 digits into 8,000 train and 2,000 test, disjoint and complete', () => {
    assert.equal(all.n, 10000);
    assert.equal(train.n, 8000);
    assert.equal(test.n, 2000);
    const seen = new Set<number>([...train.ids, ...test.ids]);
    assert.equal(seen.size, 10000);
  });

  it('gives pixels in [0, 1] and every digit in both splits', () => {
    let max = 0;
    for (const v of all.x) {
      assert.ok(v >= 0 && v <= 1);
      if (v > max) max = v;
    }
    assert.equal(max, 1);
    for (const set of [train, test]) {
      const counts = new Array(10).fill(0);
      for (const y of set.y) counts[y]++;
      assert.ok(counts.every((c) => c > set.n / 20), `class counts ${counts}`);
    }
  });

  it('is the same split every time (pinned ids)', () => {
    assert.deepEqual(Array.from(test.ids.subarray(0, 5)), PINNED_FIRST_TEST_IDS);
    const again = selectIds(all, test.ids);
    assert.deepEqual(again.x, test.x);
    assert.deepEqual(again.y, test.y);
  });

  it('picks seeded subsets whose rows carry their ids and labels', () => {
    const a = takeSubset(train, 50, 9);
    assert.deepEqual(a, takeSubset(train, 50, 9));
    assert.notDeepEqual(a.ids, takeSubset(train, 50, 10).ids);
    for (let i = 0; i < a.n; i++) {
      const id = a.ids[i];
      assert.equal(a.y[i], all.y[id]);
      assert.deepEqual(a.x.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS), all.x.subarray(id * MNIST_PIXELS, (id + 1) * MNIST_PIXELS));
    }
  });
});

describe('randomShift', () => {
  it('moves an image by at most the given pixels, keeping its ink inside', () => {
    const img = new Float32Array(MNIST_PIXELS);
    img[14 * 28 + 14] = 1;
    const batch = new Float32Array(MNIST_PIXELS * 20);
    for (let i = 0; i < 20; i++) batch.set(img, i * MNIST_PIXELS);
    randomShift(1)(batch, 20, new Rng(1));
    const positions = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const row = batch.subarray(i * MNIST_PIXELS, (i + 1) * MNIST_PIXELS);
      const p = row.indexOf(1);
      assert.equal(row.reduce((s, v) => s + v, 0), 1);
      assert.ok(Math.abs(Math.floor(p / 28) - 14) <= 1 && Math.abs((p % 28) - 14) <= 1);
      positions.add(p);
    }
    assert.ok(positions.size > 3);
  });
});

const PINNED_FIRST_TEST_IDS = [3, 5, 12, 14, 18];
