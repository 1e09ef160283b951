import * as tf from '@tensorflow/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs';
import type { GradientCamMethod } from './cam-method.ts';

const epsilon = 1e-7;

/**
 * Grad-CAM++ (Chattopadhay et al., 2018), closed form with the exponential-score trick:
 * α = g² / (2g² + Σ_ij A · g³), w_k = Σ_ij α · ReLU(g); map = ReLU(Σ_k w_k A_k).
 */
export const gradCamPlusPlus: GradientCamMethod = {
  kind: 'gradient',
  name: 'gradcam++',
  compute: (activations, gradients) =>
    tf.tidy(() => {
      const g2 = tf.square(gradients);
      const g3 = tf.mul(g2, gradients);
      const sumA = tf.sum(activations, [1, 2], true);
      const alpha = tf.div(g2, tf.add(tf.add(tf.mul(g2, 2), tf.mul(sumA, g3)), epsilon));
      const alphaWhereGrad = tf.where(tf.notEqual(gradients, 0), alpha, tf.zerosLike(alpha));
      const weights = tf.sum(tf.mul(alphaWhereGrad, tf.relu(gradients)), [1, 2], true);
      return tf.relu(tf.sum(tf.mul(activations, weights), -1)) as Tensor3D;
    }),
};
