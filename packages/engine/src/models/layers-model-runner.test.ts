import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { seededValues, tinyBranchyModel } from '../test-support/tiny-model.ts';
import { EngineError } from '../errors.ts';
import { nestedTransferModel, roundTrip, sigmoidClassifier } from '../test-support/classifier-models.ts';
import { LayersModelRunner } from './layers-model-runner.ts';
import type { ModelRunner } from './model-runner.ts';

/** dΣ(head · mask)/dA against central finite differences at 40 seeded positions. */
function assertHeadGradientMatchesFiniteDifferences(runner: ModelRunner, x: tf.Tensor4D, maskRows: number[][]): void {
  const { activations, bypass } = runner.trunk(x);
  const mask = tf.tensor2d(maskRows);
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
    assert.ok(Math.abs(fd - analytic) <= 1e-3 + 2e-2 * Math.abs(analytic), `position ${p}: finite difference ${fd} vs gradient ${analytic} (mask ${JSON.stringify(maskRows)})`);
    checked++;
  }
  assert.ok(checked >= 30, `only ${checked} of 40 positions were smooth enough to check`);
  assert.ok(g.some((v) => v !== 0), 'gradient is not identically zero');
  tf.dispose([activations, ...bypass, mask, grads]);
}

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
      assertHeadGradientMatchesFiniteDifferences(runner, x, [[0, 0, 1], [1, 0, 0]]);
      x.dispose();
    });

    test('a sigmoid output: probabilities are the model\'s own, a one-unit model scores two classes [−z, z]', async () => {
      for (const [units, ending] of [[1, 'sigmoid'], [3, 'sigmoid'], [1, 'sigmoid-layer'], [1, 'linear']] as const) {
        const before = tf.memory().numTensors;
        const model = await roundTrip(sigmoidClassifier(units, ending));
        const sigmoidRunner = new LayersModelRunner(model);
        const what = `${units} unit(s), ${ending}`;
        assert.equal(sigmoidRunner.outputActivation, 'sigmoid', what);
        assert.equal(sigmoidRunner.numClasses, units === 1 ? 2 : units, what);
        const x = tf.tensor4d(seededValues(2 * 8 * 8 * 3, 5), [2, 8, 8, 3]);
        const prediction = model.predict(x) as tf.Tensor;
        const predicted = prediction.arraySync() as number[][];
        prediction.dispose();
        const scores = tf.tidy(() => sigmoidRunner.logits(x).arraySync() as number[][]);
        const probabilities = tf.tidy(() => tf.sigmoid(sigmoidRunner.logits(x)).arraySync() as number[][]);
        predicted.forEach((row, b) => {
          // A linear output is the logit itself; the others give sigmoid(z).
          const p = ending === 'linear' ? row.map((z) => 1 / (1 + Math.exp(-z))) : row;
          const expected = units === 1 ? [1 - (p[0] as number), p[0] as number] : p;
          probabilities[b]?.forEach((v, c) => assert.ok(Math.abs(v - (expected[c] as number)) < 1e-5, `${what}, image ${b}, class ${c}: ${v} vs ${expected[c]}`));
          if (units === 1) assert.equal(scores[b]?.[0], -(scores[b]?.[1] as number), `${what}: class 0 scores −z`);
        });
        if (units === 1) assert.ok(predicted.every((row) => ending === 'linear' ? (row[0] as number) < 0 : (row[0] as number) < 0.5), 'the bias of −3 makes these negatives');
        assertHeadGradientMatchesFiniteDifferences(sigmoidRunner, x, units === 1 ? [[1, 0], [0, 1]] : [[0, 1, 0], [1, 0, 1]]);
        x.dispose();
        sigmoidRunner.dispose();
        assert.equal(tf.memory().numTensors, before, `${what}: the runner's logits layer and the model are disposed`);
      }
    });

    test('a nested base model (Keras transfer learning), saved and loaded: found by discovery and by name', async () => {
      const model = await roundTrip(nestedTransferModel());
      for (const name of [undefined, 'base_model']) {
        const nested = new LayersModelRunner(model, name);
        const before = tf.memory().numTensors;
        assert.equal(nested.targetLayer, 'base_model');
        assert.deepEqual(nested.targetShape, [8, 8, 6]);
        assert.equal(nested.numClasses, 3);
        assert.equal(nested.outputActivation, 'softmax');
        const x = tf.tensor4d(seededValues(2 * 16 * 16 * 3, 9), [2, 16, 16, 3]);
        const expected = tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync() as number[][]);
        const got = tf.tidy(() => {
          const { activations, bypass } = nested.trunk(x);
          return tf.softmax(nested.head(activations, bypass)).arraySync() as number[][];
        });
        got.forEach((row, b) => row.forEach((v, c) => assert.ok(Math.abs(v - (expected[b]?.[c] as number)) < 1e-5, `${v} vs ${expected[b]?.[c]}`)));
        assertHeadGradientMatchesFiniteDifferences(nested, x, [[0, 0, 1], [0, 1, 0]]);
        x.dispose();
        assert.equal(tf.memory().numTensors, before, 'trunk, head and gradient leave no tensors behind');
      }
      assert.throws(
        () => new LayersModelRunner(model, 'out_relu'),
        (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_INVALID' && /inside the nested model base_model/.test(e.message) && /target "base_model"/.test(e.message),
      );
      model.dispose();
    });
  });
}
