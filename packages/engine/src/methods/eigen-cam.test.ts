import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { readNsfwjsModel } from '../models/nsfwjs-bundle.ts';
import { fixtureInput } from '../test-support/fixture-images.ts';
import { seededValues } from '../test-support/tiny-model.ts';
import { eigenCam } from './eigen-cam.ts';

/**
 * The implementation before the channels × channels path, kept as the reference: power iteration
 * on the positions × positions Gram matrix, projection = √λ · u, sign from the mean activation.
 */
function referenceEigenCam(activations: Float32Array, batch: number, positions: number, c: number): Float32Array {
  const out = new Float32Array(batch * positions);
  for (let b = 0; b < batch; b++) {
    const x = activations.subarray(b * positions * c, (b + 1) * positions * c);
    const channelMeans = new Float64Array(c);
    for (let i = 0; i < positions; i++) for (let k = 0; k < c; k++) channelMeans[k] = (channelMeans[k] as number) + (x[i * c + k] as number) / positions;
    const centred = Float64Array.from(x, (v, idx) => v - (channelMeans[idx % c] as number));
    const gram = new Float64Array(positions * positions);
    for (let i = 0; i < positions; i++) {
      for (let j = 0; j < positions; j++) {
        let s = 0;
        for (let k = 0; k < c; k++) s += (centred[i * c + k] as number) * (centred[j * c + k] as number);
        gram[i * positions + j] = s;
      }
    }
    let pivot = 0;
    for (let i = 1; i < positions; i++) if ((gram[i * positions + i] as number) > (gram[pivot * positions + pivot] as number)) pivot = i;
    let v = Float64Array.from({ length: positions }, (_, i) => gram[i * positions + pivot] as number);
    let value = 0;
    for (let it = 0; it < 100; it++) {
      const next = new Float64Array(positions);
      for (let i = 0; i < positions; i++) {
        let s = 0;
        for (let j = 0; j < positions; j++) s += (gram[i * positions + j] as number) * (v[j] as number);
        next[i] = s;
      }
      const norm = Math.hypot(...next);
      if (norm === 0) break;
      for (let i = 0; i < positions; i++) next[i] = (next[i] as number) / norm;
      const delta = next.reduce((d, t, i) => d + Math.abs(t - (v[i] as number)), 0);
      v = next;
      value = norm;
      if (delta < 1e-9) break;
    }
    const mean = Float64Array.from({ length: positions }, (_, i) => x.subarray(i * c, (i + 1) * c).reduce((s, t) => s + t, 0) / c);
    const sign = v.reduce((s, t, i) => s + t * (mean[i] as number), 0) < 0 ? -1 : 1;
    for (let i = 0; i < positions; i++) out[b * positions + i] = sign * Math.sqrt(value) * (v[i] as number);
  }
  return out;
}

function assertClose(got: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(got.length, expected.length, label);
  const scale = Math.max(...Array.from(expected, Math.abs));
  assert.ok(scale > 0, `${label}: a non-trivial map`);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs((got[i] as number) - (expected[i] as number)) <= 1e-3 * scale, `${label}[${i}]: ${got[i]} vs ${expected[i]}`);
  }
}

/** Longest gap between ticks of a 1 ms interval while `work` runs: the longest event-loop stall. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  let stallMs = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 1);
  try {
    await new Promise((resolve) => setTimeout(resolve, 5));
    last = performance.now();
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 5));
    return { result, stallMs: Math.max(stallMs, performance.now() - last) };
  } finally {
    clearInterval(timer);
  }
}

const mobilenet = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/';

describe('EigenCAM', () => {
  before(() => selectBackend('wasm'));

  test('equals the positions × positions reference on real activations, on both paths and for a batch', async () => {
    const graph = await tf.loadGraphModel(tf.io.fromMemory(readNsfwjsModel('mobilenet_v2_mid')));
    const images = await Promise.all(['cartoon-open-peeps.jpg', 'sheep-pastoral.jpg'].map((file) => fixtureInput(file, 224)));
    const input = tf.tensor4d(Float32Array.from(images.flatMap((image) => Array.from(image))), [2, 224, 224, 3]);
    // 28×28×48 and 14×14×88 take the channels × channels path; 7×7×1344 the positions × positions one.
    const nodes = ['expanded_conv_4/add', 'expanded_conv_6/project/BatchNorm/FusedBatchNormV3', 'expanded_conv_16/expand/Relu6'].map((n) => mobilenet + n);
    const outputs = graph.execute(input, nodes) as tf.Tensor4D[];
    input.dispose();
    graph.dispose();
    const before = tf.memory().numTensors;
    for (const [i, activations] of outputs.entries()) {
      const [batch, h, w, c] = activations.shape;
      const maps = await eigenCam.compute(activations);
      assert.deepEqual(maps.shape, [batch, h, w]);
      const got = (await maps.data()) as Float32Array;
      maps.dispose();
      assertClose(got, referenceEigenCam((await activations.data()) as Float32Array, batch, h * w, c), nodes[i] ?? '');
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose(outputs);
  });

  // A guard on the route, not a speed goal: the positions × positions route held the event loop
  // for 3.7–7 s on this map; the channels × channels one takes about 0.13 s. The bound leaves a
  // busy machine 15× headroom and still fails the old route.
  test('a 56×56×144 map does not hold the event loop for seconds', async () => {
    const activations = tf.tensor4d(seededValues(2 * 56 * 56 * 144, 3), [2, 56, 56, 144]);
    const before = tf.memory().numTensors;
    const { result: maps, stallMs } = await longestStall(() => eigenCam.compute(activations));
    assert.deepEqual(maps.shape, [2, 56, 56]);
    assert.ok(stallMs < 2_000, `longest event-loop stall ${stallMs.toFixed(0)} ms`);
    maps.dispose();
    assert.equal(tf.memory().numTensors, before);
    activations.dispose();
  });
});
