import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { seededValues } from '../test-support/tiny-model.ts';

for (const backend of ['cpu', 'wasm'] as const) {
  test(`global average pool gradient equals the gradient of a spatial mean (${backend})`, async () => {
    await selectBackend(backend);
    const [viaPool, viaMean, local] = tf.tidy(() => {
      const x = tf.tensor4d(seededValues(2 * 7 * 5 * 3, 3), [2, 7, 5, 3]);
      const w = tf.tensor4d(seededValues(2 * 3, 4), [2, 1, 1, 3]);
      const pool = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, [7, 5], 1, 'valid'), w)))(x);
      const mean = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, [1, 2], true), w)))(x);
      // A non-global pool still takes the stock path: each input cell is covered once here.
      const stock = tf.grad((a: tf.Tensor) => tf.sum(tf.avgPool(a as tf.Tensor4D, [7, 1], [7, 1], 'valid')))(x);
      return [pool.dataSync(), mean.dataSync(), stock.dataSync()];
    });
    viaPool.forEach((v, i) => assert.ok(Math.abs(v - (viaMean[i] as number)) < 1e-7, `${v} vs ${viaMean[i]}`));
    local.forEach((v) => assert.ok(Math.abs(v - 1 / 7) < 1e-7));
  });
}
