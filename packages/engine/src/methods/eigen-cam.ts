import * as tf from '@tensorflow/tfjs';
import type { ActivationCamMethod } from './cam-method.ts';

const iterations = 100;

/**
 * Leading eigenpair of a small symmetric positive semi-definite matrix by power iteration,
 * from a start vector derived from the matrix itself, so results are deterministic.
 */
function leadingEigen(gram: Float32Array, n: number): { vector: Float64Array; value: number } {
  // Start from the Gram column of the highest-variance position. Not the all-ones vector: the
  // rows are centred, so ones lies in the Gram matrix's null space and would converge to zero.
  let pivot = 0;
  for (let i = 1; i < n; i++) if ((gram[i * n + i] as number) > (gram[pivot * n + pivot] as number)) pivot = i;
  let v = Float64Array.from({ length: n }, (_, i) => gram[i * n + pivot] as number);
  let value = 0;
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += (gram[i * n + j] as number) * (v[j] as number);
      next[i] = s;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) return { vector: next, value: 0 };
    for (let i = 0; i < n; i++) next[i] = (next[i] as number) / norm;
    const delta = next.reduce((d, x, i) => d + Math.abs(x - (v[i] as number)), 0);
    v = next;
    value = norm;
    if (delta < 1e-9) break;
  }
  return { vector: v, value };
}

/**
 * EigenCAM (Muhammad & Yeasin, 2020): the projection of the centred activations (positions ×
 * channels) on their first principal component. Gradient-free, hence class-independent. Computed
 * through the small positions × positions Gram matrix: projection = √λ · u for its top eigenpair.
 * The sign of a principal component is arbitrary; it is chosen so the map correlates positively
 * with the mean activation, which is what makes the map readable as "where the features fire".
 */
export const eigenCam: ActivationCamMethod = {
  kind: 'activation',
  name: 'eigencam',
  compute: async (activations) => {
    const [batch, h, w, c] = activations.shape;
    const positions = h * w;
    // Gram matrices and mean activations in one tensor, so one read-back (on a GPU each read is a
    // staging buffer and a queue submit). Read asynchronously: tfjs-backend-webgpu's synchronous
    // read of a GPU tensor needs OffscreenCanvas, which Node lacks.
    const packed = tf.tidy(() => {
      const x = tf.reshape(activations, [batch, positions, c]);
      const centred = tf.sub(x, tf.mean(x, 1, true));
      const grams = tf.reshape(tf.matMul(centred, centred, false, true), [batch, positions * positions]);
      return tf.concat([grams, tf.mean(x, -1)], 1); // [batch, positions² + positions]
    });
    let values: Float32Array;
    try {
      values = (await packed.data()) as Float32Array;
    } finally {
      packed.dispose();
    }
    const stride = positions * positions + positions;
    const out = new Float32Array(batch * positions);
    for (let b = 0; b < batch; b++) {
      const gram = values.subarray(b * stride, b * stride + positions * positions);
      const mean = values.subarray(b * stride + positions * positions, (b + 1) * stride);
      const { vector, value } = leadingEigen(gram, positions);
      const scale = Math.sqrt(Math.max(value, 0));
      const sign = vector.reduce((s, x, i) => s + x * (mean[i] as number), 0) < 0 ? -1 : 1;
      for (let i = 0; i < positions; i++) out[b * positions + i] = sign * scale * (vector[i] as number);
    }
    return tf.tensor3d(out, [batch, h, w]);
  },
};
