import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { seededValues } from '../test-support/tiny-model.ts';
import { selectBackend } from './select-backend.ts';

type Case = { name: string; run: () => tf.Tensor[] };

const x = () => tf.tensor4d(seededValues(2 * 7 * 9 * 3, 5), [2, 7, 9, 3]);
/** After a ReLU, pooling windows hold tied zeros: where the wasm MaxPoolGrad goes wrong. */
const reluX = () => tf.relu(tf.sub(x(), 0.5)) as tf.Tensor4D;
const weigh = (y: tf.Tensor) => tf.sum(tf.mul(y, tf.tensor(seededValues(y.size, 9), y.shape)));

const cases: Case[] = [
  ...(['valid', 'same'] as const).flatMap((pad) =>
    [
      [2, 2],
      [3, 2],
      [3, 1],
    ].map(([size, stride]) => ({
      name: `MaxPoolGrad ${size}×${size}/s${stride} ${pad}, tied inputs`,
      run: () => [tf.grad((a: tf.Tensor) => weigh(tf.maxPool(a as tf.Tensor4D, size as number, stride as number, pad)))(reluX())],
    })),
  ),
  {
    name: 'Conv2DBackpropFilter',
    run: () => {
      const filter = tf.tensor4d(seededValues(3 * 3 * 3 * 4, 2), [3, 3, 3, 4]);
      return [tf.grad((f: tf.Tensor) => weigh(tf.conv2d(x(), f as tf.Tensor4D, 2, 'same')))(filter)];
    },
  },
  {
    name: 'DepthwiseConv2dNativeBackpropInput/Filter',
    run: () => {
      const filter = tf.tensor4d(seededValues(3 * 3 * 3 * 2, 4), [3, 3, 3, 2]);
      return tf.grads((a: tf.Tensor, f: tf.Tensor) => weigh(tf.depthwiseConv2d(a as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')))([x(), filter]);
    },
  },
  {
    name: 'UnsortedSegmentSum (gradient of gather)',
    run: () => {
      const params = tf.tensor2d(seededValues(6 * 4, 6), [6, 4]);
      return [tf.grad((p: tf.Tensor) => weigh(tf.gather(p, tf.tensor1d([0, 2, 2, 5], 'int32'))))(params)];
    },
  },
];

async function gradientsOn(backend: 'cpu' | 'wasm'): Promise<Map<string, Float32Array[]>> {
  await selectBackend(backend);
  return new Map(cases.map((c) => [c.name, tf.tidy(() => c.run().map((t) => t.dataSync() as Float32Array))]));
}

test('wasm gradients of the delegated kernels equal the cpu backend', async () => {
  const cpu = await gradientsOn('cpu');
  const wasm = await gradientsOn('wasm');
  for (const { name } of cases) {
    const expected = cpu.get(name) as Float32Array[];
    const got = wasm.get(name) as Float32Array[];
    assert.equal(got.length, expected.length, name);
    got.forEach((values, i) => {
      const ref = expected[i] as Float32Array;
      const worst = Math.max(...values.map((v, j) => Math.abs(v - (ref[j] as number))));
      assert.ok(worst < 1e-5, `${name}: max |wasm − cpu| = ${worst}`);
    });
  }
});

test('max-pool gradient on tied inputs routes each output gradient to exactly one input', async () => {
  await selectBackend('wasm');
  const [pooledSize, gradSum] = tf.tidy(() => {
    const input = reluX();
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid')))(input);
    return [tf.maxPool(input, 2, 2, 'valid').size, tf.sum(g).dataSync()[0] as number];
  });
  assert.equal(gradSum, pooledSize);
});
