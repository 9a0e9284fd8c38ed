import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { Mlp } from '../../src/ml/mlp.js';
import { OnnxModelBuilder, appendMlp, attr, mlpToOnnx } from '../../src/ml/onnx-builder.js';
import { Rng } from '../../src/ml/rng.js';

function randomBatch(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * d }, () => rng.normal());
}

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe('mlpToOnnx', () => {
  for (const head of ['softmax', 'sigmoid'] as const) {
    it(`gives onnxruntime the same logits and probabilities as the TS forward (${head})`, async () => {
      const mlp = Mlp.create({ sizes: [20, 16, 8, 5], head, seed: 11 });
      const session = await ort.InferenceSession.create(mlpToOnnx(mlp, { outputs: 'both' }));
      try {
        assert.deepEqual(session.inputNames, ['input']);
        assert.deepEqual(session.outputNames, ['probabilities', 'logits']);
        for (const n of [1, 7]) {
          const x = randomBatch(n, 20, n);
          const out = await session.run({ input: new ort.Tensor('float32', x, [n, 20]) });
          assert.deepEqual(out.logits.dims, [n, 5]);
          assertAllClose(out.logits.data as Float32Array, mlp.forward(x, n), 1e-4, 'logits');
          assertAllClose(out.probabilities.data as Float32Array, mlp.predictProba(x, n), 1e-4, 'probabilities');
        }
      } finally {
        await session.release();
      }
    });
  }

  it('declares a dynamic batch dimension and only the outputs asked for', async () => {
    const mlp = Mlp.create({ sizes: [3, 2], seed: 1 });
    const session = await ort.InferenceSession.create(mlpToOnnx(mlp, { inputName: 'x', outputs: 'logits', batchDim: 'batch' }));
    try {
      assert.deepEqual(session.outputNames, ['logits']);
      const input = session.inputMetadata[0];
      assert.ok(input.isTensor);
      assert.deepEqual(input.shape, ['batch', 3]);
    } finally {
      await session.release();
    }
  });

  it('writes a model that onnx-proto decodes with opset 13 and metadata', () => {
    const mlp = Mlp.create({ sizes: [3, 2], seed: 1 });
    const model = onnxProto.onnx.ModelProto.decode(mlpToOnnx(mlp, { metadata: { owner: 'test' } }));
    assert.equal(Number(model.opsetImport[0].version), 13);
    assert.equal(Number(model.irVersion), 8);
    assert.deepEqual(
      model.metadataProps.map((m) => [m.key, m.value]),
      [['palisade.mlp.sizes', '[3,2]'], ['palisade.mlp.head', 'softmax'], ['owner', 'test']],
    );
    assert.deepEqual(model.graph!.node!.map((n) => n.opType), ['MatMul', 'Add', 'Softmax']);
  });
});

describe('OnnxModelBuilder', () => {
  it('builds a bag-of-ids featurizer (Gather + ReduceSum) in front of an MLP', async () => {
    // The shape of a hashed n-gram text detector: token-bucket ids -> summed embeddings -> MLP.
    const vocab = 6;
    const dim = 3;
    const emb = Float32Array.from({ length: vocab * dim }, (_, i) => i / 10);
    const mlp = Mlp.create({ sizes: [dim, 4, 1], head: 'sigmoid', seed: 5 });
    const b = new OnnxModelBuilder({ graphName: 'bag' });
    b.addInput('ids', 'int64', ['N', 'L']);
    const table = b.addInitializer('embedding', 'float', [vocab, dim], emb);
    const axes = b.addInitializer('axes', 'int64', [1], [1]);
    const gathered = b.op('Gather', [table, 'ids'], { axis: 0 });
    const summed = b.op('ReduceSum', [gathered, axes], { keepdims: 0 });
    const logits = appendMlp(b, mlp, summed);
    b.op('Sigmoid', [logits], {}, { output: 'score' });
    b.addOutput('score', 'float', ['N', 1]);
    const session = await ort.InferenceSession.create(b.toBytes());
    try {
      const ids = [0, 2, 2, 5, 1, 1, 1, 3];
      const out = await session.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [2, 4]) });
      const features = new Float32Array(2 * dim);
      for (let r = 0; r < 2; r++) for (let t = 0; t < 4; t++) for (let c = 0; c < dim; c++) features[r * dim + c] += emb[ids[r * 4 + t] * dim + c];
      assertAllClose(out.score.data as Float32Array, mlp.predictProba(features, 2), 1e-5, 'score');
    } finally {
      await session.release();
    }
  });

  it('encodes typed attributes (a float that looks like an integer)', async () => {
    const b = new OnnxModelBuilder();
    b.addInput('x', 'float', [null]);
    b.op('LeakyRelu', ['x'], { alpha: attr.float(2) }, { output: 'y' });
    b.addOutput('y', 'float', [null]);
    const session = await ort.InferenceSession.create(b.toBytes());
    try {
      const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 3]), [2]) });
      assert.deepEqual(Array.from(out.y.data as Float32Array), [-2, 3]);
    } finally {
      await session.release();
    }
  });

  it('refuses a graph whose wiring is broken', () => {
    const b = new OnnxModelBuilder();
    b.addInput('x', 'float', [1]);
    b.op('Relu', ['nothing'], {}, { output: 'y' });
    b.addOutput('y', 'float', [1]);
    assert.throws(() => b.toBytes(), /reads nothing/);

    const c = new OnnxModelBuilder();
    c.addInput('x', 'float', [1]);
    c.addOutput('y', 'float', [1]);
    assert.throws(() => c.toBytes(), /produced by no node/);
    assert.throws(() => c.addInput('x', 'float', [1]), /already used/);
    assert.throws(() => c.addInitializer('w', 'float', [2, 2], [1, 2, 3]), /3 values/);
  });
});

describe('OnnxModelBuilder generated output names', () => {
  // Regression: a node asking for several generated outputs got the same name twice.
  it('gives each generated output of one node its own name', () => {
    const b = new OnnxModelBuilder();
    const x = b.addInput('x', 'float', ['N', 4]);
    const outs = b.addNode('Split', [x], 2, { axis: 1 });
    assert.equal(new Set(outs).size, 2);
  });
});
