import * as tf from '@tensorflow/tfjs';
import { toProbabilities } from '../models/output-activation.ts';
import { yieldToEventLoop } from '../yield-to-event-loop.ts';
import type { PerturbationCamMethod } from './cam-method.ts';

/**
 * The input masks of activation channels `selected` ([h, w, channels]): each channel min-max
 * scaled to [0, 1] and upsampled to the input's height × width, [channels, height, width, 1].
 * Half-pixel centres, as the overlays' upsampleBilinear: activation cell (i, j) covers input
 * pixels [i·H/h, (i+1)·H/h), so its mask must peak at that block's centre. tfjs's default
 * (corner-aligned source grid without half-pixel offsets) puts it half a cell up and left, on
 * content the cell never saw.
 */
export function scoreCamMasks(selected: tf.Tensor3D, height: number, width: number): tf.Tensor4D {
  return tf.tidy(() => {
    const maps = tf.expandDims(tf.transpose(selected, [2, 0, 1]), -1) as tf.Tensor4D; // [channels, h, w, 1]
    const lo = tf.min(maps, [1, 2, 3], true);
    const hi = tf.max(maps, [1, 2, 3], true);
    const scaled = tf.div(tf.sub(maps, lo), tf.maximum(tf.sub(hi, lo), 1e-7)) as tf.Tensor4D;
    return tf.image.resizeBilinear(scaled, [height, width], false, true);
  });
}

/**
 * Score-CAM (Wang et al., 2020): each channel, upsampled and min-max scaled to [0, 1], masks the
 * input; its weight is the class probability the model gives the masked image (through the
 * model's own output activation: softmax, or a sigmoid per class); map = ReLU(Σ_k w_k A_k). Costs
 * one forward pass per channel, so the masked images go through the model in batches, and
 * `maxChannels` keeps only the most active channels (by spatial mean).
 * Before each batch it yields to the event loop: on the CPU and wasm backends the passes run
 * synchronously, and 64 of them per image would hold the loop for seconds (a worker could not
 * renew its job locks), so the longest stretch is one batch of masked images.
 */
/** How many of a target layer's `channels` Score-CAM weights with `maxChannels` (0: all). */
export function scoreCamChannelCount(maxChannels: number, channels: number): number {
  return maxChannels > 0 ? Math.min(maxChannels, channels) : channels;
}

export const scoreCam: PerturbationCamMethod = {
  kind: 'perturbation',
  name: 'scorecam',
  compute: async ({ runner, input, activations, classes, options }) => {
    const [, h, w, channels] = activations.shape;
    const [, height, width] = input.shape;
    const activation = runner.outputActivation;
    const keep = scoreCamChannelCount(options.maxChannels, channels);
    const owned: tf.Tensor[] = [];
    try {
      const selected = tf.tidy(() => {
        const perChannel = tf.reshape(activations, [h, w, channels]);
        const { indices } = tf.topk(tf.mean(perChannel, [0, 1]), keep);
        return tf.gather(perChannel, indices, 2) as tf.Tensor3D; // [h, w, keep]
      });
      owned.push(selected);
      const masks = scoreCamMasks(selected, height, width);
      owned.push(masks);
      const classIndex = tf.tensor1d(classes as number[], 'int32');
      owned.push(classIndex);
      const weightChunks: tf.Tensor2D[] = [];
      for (let start = 0; start < keep; start += options.batchSize) {
        await yieldToEventLoop();
        const size = Math.min(options.batchSize, keep - start);
        const chunk = tf.tidy(() => {
          const masked = tf.mul(input, tf.slice(masks, [start, 0, 0, 0], [size, height, width, 1])) as tf.Tensor4D;
          return tf.gather(toProbabilities(runner.logits(masked), activation), classIndex, 1) as tf.Tensor2D; // [size, classes]
        });
        owned.push(chunk);
        weightChunks.push(chunk);
      }
      return tf.tidy(() => {
        const weights = tf.concat(weightChunks, 0); // [keep, classes]
        const flat = tf.reshape(selected, [h * w, keep]);
        return tf.reshape(tf.relu(tf.transpose(tf.matMul(flat, weights))), [classes.length, h, w]) as tf.Tensor3D;
      });
    } finally {
      tf.dispose(owned);
    }
  },
};
