import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TensorRowsFeaturizer, TensorShapeError } from '../../../src/detect/featurizers/tensor-rows.js';

test('regression: a finite double past the float32 range (1e300) became Infinity in the row, and the detector scored it harmless', () => {
  const f = new TensorRowsFeaturizer({ size: 2 });
  for (const v of [1e300, -1e300, 3.5e38]) {
    assert.throws(() => f.rows([{ name: 'x', shape: [2], datatype: 'FP32', data: [0.5, v] }]), TensorShapeError, String(v));
  }
  assert.deepEqual(f.rows([{ name: 'x', shape: [2], datatype: 'FP32', data: [0.5, 3.4e38] }])[0].length, 2, 'the float32 maximum itself is a value');
});
