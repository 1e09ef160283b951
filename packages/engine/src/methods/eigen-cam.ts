import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from '../yield-to-event-loop.ts';
import type { ActivationCamMethod } from './cam-method.ts';

const iterations = 100;
/** Longest stretch of power iteration between two yields to the event loop. */
const sliceMs = 50;

/**
 * Leading eigenpair of a small symmetric positive semi-definite matrix by power iteration,
 * from a start vector derived from the matrix itself, so results are deterministic. Yields to the
 * event loop every `sliceMs`, so a large matrix never holds it for the whole iteration.
 */
async function leadingEigen(matrix: Float32Array, n: number): Promise<{ vector: Float64Array; value: number }> {
  // Start from the column of the highest-variance row. Not the all-ones vector: the data are
  // centred, so ones lies in the Gram matrix's null space and would converge to zero.
  let pivot = 0;
  for (let i = 1; i < n; i++) if ((matrix[i * n + i] as number) > (matrix[pivot * n + pivot] as number)) pivot = i;
  let v = Float64Array.from({ length: n }, (_, i) => matrix[i * n + pivot] as number);
  let value = 0;
  let sliceStart = performance.now();
  for (let it = 0; it < iterations; it++) {
    if (performance.now() - sliceStart > sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
    const next = new Float64Array(n);
    let squares = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += (matrix[i * n + j] as number) * (v[j] as number);
      next[i] = s;
      squares += s * s;
    }
    const norm = Math.sqrt(squares);
    if (norm === 0) return { vector: next, value: 0 };
    let delta = 0;
    for (let i = 0; i < n; i++) {
      next[i] = (next[i] as number) / norm;
      delta += Math.abs((next[i] as number) - (v[i] as number));
    }
    v = next;
    value = norm;
    if (delta < 1e-9) break;
  }
  return { vector: v, value };
}

/**
 * EigenCAM (Muhammad & Yeasin, 2020): the projection of the centred activations A (positions ×
 * channels) on their first principal component. Gradient-free, hence class-independent.
 *
 * The power iteration runs on the smaller of the two Gram matrices, so its cost is min(positions,
 * channels)² per step rather than positions² (a 56×56 map has 3136 positions: a 9.8M-entry matrix):
 * - positions ≤ channels: AAᵀ (positions × positions); projection = √λ · u for its top eigenpair;
 * - positions > channels: AᵀA (channels × channels); projection = A · v, the same vector, since
 *   A·v is an eigenvector of AAᵀ with eigenvalue λ and norm √λ.
 * The sign of a principal component is arbitrary; it is chosen so the map correlates positively
 * with the mean activation, which is what makes the map readable as "where the features fire".
 */
export const eigenCam: ActivationCamMethod = {
  kind: 'activation',
  name: 'eigencam',
  compute: async (activations) => {
    const [batch, h, w, c] = activations.shape;
    const positions = h * w;
    const byChannels = positions > c;
    const n = byChannels ? c : positions;
    // Gram matrices, centred activations (when projecting) and mean activations in one tensor, so
    // one read-back (on a GPU each read is a staging buffer and a queue submit). Read
    // asynchronously: tfjs-backend-webgpu's synchronous read of a GPU tensor needs
    // OffscreenCanvas, which Node lacks.
    const packed = tf.tidy(() => {
      const x = tf.reshape(activations, [batch, positions, c]);
      const centred = tf.sub(x, tf.mean(x, 1, true));
      const grams = tf.reshape(byChannels ? tf.matMul(centred, centred, true, false) : tf.matMul(centred, centred, false, true), [batch, n * n]);
      const parts = byChannels ? [grams, tf.reshape(centred, [batch, positions * c]), tf.mean(x, -1)] : [grams, tf.mean(x, -1)];
      return tf.concat(parts, 1);
    });
    let values: Float32Array;
    try {
      values = (await packed.data()) as Float32Array;
    } finally {
      packed.dispose();
    }
    const centredSize = byChannels ? positions * c : 0;
    const stride = n * n + centredSize + positions;
    const out = new Float32Array(batch * positions);
    for (let b = 0; b < batch; b++) {
      // Each image's iteration is its own stretch of the event loop.
      if (b > 0) await yieldToEventLoop();
      const base = b * stride;
      const gram = values.subarray(base, base + n * n);
      const mean = values.subarray(base + n * n + centredSize, base + stride);
      const { vector, value } = await leadingEigen(gram, n);
      const projection = new Float64Array(positions);
      if (byChannels) {
        const centred = values.subarray(base + n * n, base + n * n + centredSize);
        for (let i = 0; i < positions; i++) {
          let s = 0;
          for (let k = 0; k < c; k++) s += (centred[i * c + k] as number) * (vector[k] as number);
          projection[i] = s;
        }
      } else {
        const scale = Math.sqrt(Math.max(value, 0));
        for (let i = 0; i < positions; i++) projection[i] = scale * (vector[i] as number);
      }
      const sign = projection.reduce((s, x, i) => s + x * (mean[i] as number), 0) < 0 ? -1 : 1;
      for (let i = 0; i < positions; i++) out[b * positions + i] = sign * (projection[i] as number);
    }
    return tf.tensor3d(out, [batch, h, w]);
  },
};
