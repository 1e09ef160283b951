import * as tf from '@tensorflow/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs';
import type { GradientCamMethod } from './cam-method.ts';

/**
 * HiResCAM (Draelos & Carin, 2020): element-wise gradients, no spatial averaging, so the map
 * provably reflects the locations the score depends on; map = ReLU(Σ_k g_k · A_k).
 */
export const hiResCam: GradientCamMethod = {
  kind: 'gradient',
  name: 'hirescam',
  compute: (activations, gradients) => tf.tidy(() => tf.relu(tf.sum(tf.mul(gradients, activations), -1)) as Tensor3D),
};
