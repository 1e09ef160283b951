import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { camMethodSchema } from '@gradcam/contracts';
import { selectBackend } from '../backends/select-backend.ts';
import { eigenCam } from './eigen-cam.ts';
import { gradCamPlusPlus } from './grad-cam-plus-plus.ts';
import { gradCam } from './grad-cam.ts';
import { hiResCam } from './hires-cam.ts';
import { layerCam } from './layer-cam.ts';
import { methodNames } from './method-registry.ts';
import { xGradCam } from './xgrad-cam.ts';

/** Two images, 2×2 positions, 2 channels; image 1 is image 0 with gradients negated. */
const activations = [
  [[[1, 0], [2, 1]], [[0, 3], [1, 1]]],
  [[[1, 0], [2, 1]], [[0, 3], [1, 1]]],
];
const gradients = [
  [[[0.5, -1], [0.5, 1]], [[0.5, 1], [0.5, -1]]],
  [[[-0.5, 1], [-0.5, -1]], [[-0.5, -1], [-0.5, 1]]],
];

function run(compute: (a: tf.Tensor4D, g: tf.Tensor4D) => tf.Tensor3D): number[][] {
  return tf.tidy(() => {
    const maps = compute(tf.tensor4d(activations), tf.tensor4d(gradients));
    return (maps.arraySync() as number[][][]).map((m) => m.flat());
  });
}

const close = (got: number[], want: number[]) => got.forEach((v, i) => assert.ok(Math.abs(v - (want[i] as number)) < 1e-5, `${got} vs ${want}`));

describe('CAM formulas on a hand-computed example', () => {
  before(() => selectBackend('wasm'));

  test('the method table matches the manifest schema', () => {
    assert.deepEqual(methodNames, camMethodSchema.options);
  });

  test('Grad-CAM: spatial mean of gradients per image, then ReLU(Σ w·A)', () => {
    // image 0: w = [0.5, 0]; map = 0.5 * A[...,0] = [0.5, 1, 0, 0.5]; image 1: w = [-0.5, 0] → ReLU → 0
    const [m0, m1] = run(gradCam.compute);
    close(m0 as number[], [0.5, 1, 0, 0.5]);
    close(m1 as number[], [0, 0, 0, 0]);
  });

  test('HiResCAM and LayerCAM: element-wise', () => {
    // HiResCAM image 0: Σ_k g·A = [0.5, 2, 3, -0.5] → ReLU
    close(run(hiResCam.compute)[0] as number[], [0.5, 2, 3, 0]);
    // LayerCAM image 0: Σ_k ReLU(g)·A = [0.5, 2, 3, 0.5]
    close(run(layerCam.compute)[0] as number[], [0.5, 2, 3, 0.5]);
  });

  test('XGrad-CAM: w = Σ A·g / Σ A', () => {
    // channel 0: Σ A·g = 0.5*(1+2+0+1) = 2, Σ A = 4 → 0.5; channel 1: (0 + 1 + 3 - 1) / 5 = 0.6
    // map = 0.5*A0 + 0.6*A1 = [0.5, 1.6, 1.8, 1.1]
    close(run(xGradCam.compute)[0] as number[], [0.5, 1.6, 1.8, 1.1]);
  });

  test('Grad-CAM++: positive gradients weighted by α', () => {
    // channel 0: g = 0.5 everywhere, ΣA = 4: α = 0.25 / (0.5 + 4 * 0.125) = 0.25; w = Σ α·g = 4 * 0.125 = 0.5
    // channel 1: g = ±1, ΣA = 5: α = 1 / (2 + 5 * g³); only g = +1 counts: α = 1/7 at 2 positions → w = 2/7
    const w0 = 0.5;
    const w1 = 2 / 7;
    close(run(gradCamPlusPlus.compute)[0] as number[], [w0 * 1, w0 * 2 + w1 * 1, w1 * 3, w0 * 1 + w1 * 1]);
  });

  test('EigenCAM: first principal component, sign aligned with the mean activation', async () => {
    // Activations that vary along one direction only: the projection is proportional to it.
    const a = tf.tensor4d([[[[1, 2], [2, 4]], [[3, 6], [4, 8]]]]);
    const before = tf.memory().numTensors;
    const maps = await eigenCam.compute(a);
    const map = ((await maps.array())[0] ?? []).flat();
    maps.dispose();
    assert.equal(tf.memory().numTensors, before, 'EigenCAM leaves only its result, disposed here');
    a.dispose();
    // Centred positions: t·(1, 2) with t = −1.5, −0.5, 0.5, 1.5 → projection = t·√5.
    close(map, [-1.5, -0.5, 0.5, 1.5].map((t) => t * Math.sqrt(5)));
  });
});
