import * as tf from '@tensorflow/tfjs';
import type { Tensor3D } from '@tensorflow/tfjs';
import type { GradientCamMethod } from './cam-method.ts';

/** LayerCAM (Jiang et al., 2021): element-wise positive gradients; map = ReLU(Σ_k ReLU(g_k) · A_k). */
export const layerCam: GradientCamMethod = {
  kind: 'gradient',
  name: 'layercam',
  compute: (activations, gradients) => tf.tidy(() => tf.relu(tf.sum(tf.mul(tf.relu(gradients), activations), -1)) as Tensor3D),
};
