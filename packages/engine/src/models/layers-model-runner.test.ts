import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { seededValues, tinyBranchyModel } from '../test-support/tiny-model.ts';
import { LayersModelRunner } from './layers-model-runner.ts';

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`layers model runner on ${backend}`, () => {
    let runner: LayersModelRunner;
    let model: tf.LayersModel;
    before(async () => {
      await selectBackend(backend);
      model = tinyBranchyModel();
      runner = new LayersModelRunner(model, 'target');
    });
    after(() => runner.dispose());

    test('discovers the last spatial layer as the target', () => {
      const discovered = new LayersModelRunner(tinyBranchyModel());
      assert.equal(discovered.targetLayer, 'head_concat');
      assert.deepEqual(discovered.targetShape, [4, 4, 10]);
      discovered.dispose();
    });

    test('trunk + head reproduce the model: softmax(head logits) equals predict()', () => {
      const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 7), [2, 8, 8, 3]);
      const expected = (model.predict(x) as tf.Tensor).arraySync() as number[][];
      const got = tf.tidy(() => {
        const { activations, bypass } = runner.trunk(x);
        return tf.softmax(runner.head(activations, bypass)).arraySync() as number[][];
      });
      x.dispose();
      got.forEach((row, b) => row.forEach((v, c) => assert.ok(Math.abs(v - (expected[b]?.[c] as number)) < 1e-5, `${v} vs ${expected[b]?.[c]}`)));
      assert.equal(runner.numClasses, 3);
    });

    test('head gradient matches central finite differences, per image', () => {
      const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 11), [2, 8, 8, 3]);
      const { activations, bypass } = runner.trunk(x);
      const classIndex = [2, 0];
      const mask = tf.tensor2d([[0, 0, 1], [1, 0, 0]]);
      const score = (a: tf.Tensor4D) => tf.tidy(() => tf.sum(tf.mul(runner.head(a, bypass), mask)));
      const grads = tf.grad((a: tf.Tensor) => score(a as tf.Tensor4D))(activations);
      const g = grads.dataSync() as Float32Array;
      const a0 = (activations.dataSync() as Float32Array).slice();
      const eps = 1e-3;
      const at = (values: Float32Array) => tf.tidy(() => score(tf.tensor4d(values, activations.shape)).dataSync()[0] as number);
      const base = at(a0);
      const positions = Array.from(seededValues(40, 3), (r) => Math.floor(r * a0.length));
      let checked = 0;
      for (const p of positions) {
        const plus = a0.slice();
        const minus = a0.slice();
        plus[p] = (plus[p] as number) + eps;
        minus[p] = (minus[p] as number) - eps;
        const right = (at(plus) - base) / eps;
        const left = (base - at(minus)) / eps;
        // A ReLU or max-pool switch inside ±eps makes the one-sided slopes differ: no derivative
        // to compare there.
        if (Math.abs(right - left) > 2e-3 + 0.05 * Math.abs(right)) continue;
        const fd = (right + left) / 2;
        const analytic = g[p] as number;
        assert.ok(Math.abs(fd - analytic) <= 1e-3 + 2e-2 * Math.abs(analytic), `position ${p}: finite difference ${fd} vs gradient ${analytic} (classes ${classIndex})`);
        checked++;
      }
      assert.ok(checked >= 30, `only ${checked} of 40 positions were smooth enough to check`);
      assert.ok(g.some((v) => v !== 0), 'gradient is not identically zero');
      tf.dispose([x, activations, ...bypass, mask, grads]);
    });
  });
}
