import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadDemoMnistMlp } from '../../src/demo/demo-mnist-model.js';
import { loadMnist, takeSubset } from '../../src/demo/mnist-data.js';
import { jacobianAugmentation } from '../../detectors/attacks/jacobian-augmentation.js';
import { countingOracle, mlpOracle } from '../../detectors/attacks/oracle.js';
import { benignClients, gatherRows, nearDuplicateSweeps, randomNoiseQueries } from '../../detectors/attacks/query-sequences.js';

const D = 784;

describe('extraction query sequences', () => {
  const mlp = loadDemoMnistMlp();
  const { test } = loadMnist();

  it('Jacobian augmentation: seeds first, then each round doubles the set with points λ from an earlier query; every query is sent', () => {
    const seeds = takeSubset(test, 10, 1);
    const oracle = countingOracle(mlpOracle(mlp));
    const r = jacobianAugmentation(oracle, seeds.x, seeds.n, { rounds: 2, epochs: 2, lambda: 0.1 });
    assert.equal(r.n, 40);
    assert.equal(oracle.count, 40);
    assert.deepEqual(r.queries.subarray(0, 10 * D), seeds.x);
    for (let i = 10; i < 40; i++) {
      const parent = i < 20 ? i - 10 : i - 20;
      let m = 0;
      for (let p = 0; p < D; p++) m = Math.max(m, Math.abs(r.queries[i * D + p] - r.queries[parent * D + p]));
      assert.ok(m <= 0.1 + 1e-6 && m > 0.05, `query ${i}: ${m} from its parent`);
    }
    assert.deepEqual(Array.from(r.labels.subarray(0, 10)), Array.from(mlp.predictClass(seeds.x, 10)));
    assert.equal(jacobianAugmentation(mlpOracle(mlp), seeds.x, seeds.n, { rounds: 3, epochs: 1, maxQueries: 25 }).n, 25);
  });

  it('line sweeps stay within their radius of their points; random noise does not repeat', () => {
    const pts = takeSubset(test, 2, 2);
    const s = nearDuplicateSweeps(pts.x, 2, { perPoint: 10, radius: 0.3, mode: 'line' });
    assert.equal(s.n, 20);
    for (let i = 0; i < 20; i++) {
      const base = Math.floor(i / 10);
      let m = 0;
      for (let p = 0; p < D; p++) m = Math.max(m, Math.abs(s.x[i * D + p] - pts.x[base * D + p]));
      assert.ok(m <= 0.3 + 1e-6);
    }
    const noise = randomNoiseQueries(3, 1);
    assert.notDeepEqual(noise.x.subarray(0, D), noise.x.subarray(D, 2 * D));
  });

  it('benign clients send distinct digits each, in different orders', () => {
    const clients = benignClients(test.n, 3, 50, 9);
    for (const c of clients) assert.equal(new Set(c).size, 50);
    assert.notDeepEqual(clients[0], clients[1]);
    const seq = gatherRows(test.x, D, clients[0]);
    assert.deepEqual(seq.x.subarray(0, D), test.x.subarray(clients[0][0] * D, (clients[0][0] + 1) * D));
  });
});
