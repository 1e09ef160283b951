import * as tf from '@tensorflow/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs';
import type { GradientCamMethod } from './cam-method.ts';

/**
 * Grad-CAM (Selvaraju et al., 2017): channel weights are the spatial mean of the gradients (per
 * image, never across the batch); map = ReLU(Σ_k w_k A_k).
 */
export const gradCam: GradientCamMethod = {
  kind: 'gradient',
  name: 'gradcam',
  compute: (activations, gradients) =>
    tf.tidy(() => tf.relu(tf.sum(tf.mul(activations, tf.mean(gradients, [1, 2], true)), -1)) as Tensor3D),
};
