import * as tf from '@tensorflow/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs';
import type { GradientCamMethod } from './cam-method.ts';

const epsilon = 1e-7;

/** XGrad-CAM (Fu et al., 2020): w_k = Σ_ij (A · g) / Σ_ij A; map = ReLU(Σ_k w_k A_k). */
export const xGradCam: GradientCamMethod = {
  kind: 'gradient',
  name: 'xgradcam',
  compute: (activations, gradients) =>
    tf.tidy(() => {
      const sumA = tf.sum(activations, [1, 2], true);
      const weights = tf.div(tf.sum(tf.mul(activations, gradients), [1, 2], true), tf.add(sumA, epsilon));
      return tf.relu(tf.sum(tf.mul(activations, weights), -1)) as Tensor3D;
    }),
};
