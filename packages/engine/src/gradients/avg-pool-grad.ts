import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap, Tensor } from '@tensorflow/tfjs';

/**
 * AvgPool gradient with a fast path for global pooling (the window covers the whole feature map,
 * as in a classifier head: MobileNetV2's 7×7 pool over out_relu). There the gradient is dy / (h·w)
 * broadcast over the window, which costs ~1 ms at batch 8 against ~15 ms for the wasm
 * AvgPoolGrad kernel, the largest part of a Grad-CAM backward pass on wasm. Other pools keep the
 * stock gradient.
 */
export function globalAwareAvgPoolGrad(stock: GradConfig): GradConfig {
  return {
    kernelName: 'AvgPool',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const [x] = saved;
      const { filterSize, pad } = attrs as { filterSize: number | [number, number]; pad: unknown };
      const [fh, fw] = typeof filterSize === 'number' ? [filterSize, filterSize] : filterSize;
      if (x && pad === 'valid' && x.shape[1] === fh && x.shape[2] === fw) {
        return { x: () => tf.mul(tf.onesLike(x), tf.div(dy as Tensor, fh * fw)) };
      }
      return stock.gradFunc(dy, saved, attrs);
    },
  };
}
