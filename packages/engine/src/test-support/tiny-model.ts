import * as tf from '@tensorflow/tfjs';

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/**
 * A small seeded model whose head (after layer `target`) is deliberately not a chain: a
 * depthwise conv and a 2×2/s2 max pool (kernels wasm lacks or gets wrong), a residual add, and a
 * bypass branch that comes from before the target. Softmax output, so logits must be recovered.
 */
export function tinyBranchyModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  const stem = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'stem' }).apply(input) as tf.SymbolicTensor;
  const target = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'target' }).apply(stem) as tf.SymbolicTensor;
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: init(3), name: 'head_dw' }).apply(target) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'head_pool' }).apply(depthwise) as tf.SymbolicTensor;
  const shortcut = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: 'head_shortcut' }).apply(target) as tf.SymbolicTensor;
  const residual = tf.layers.add({ name: 'head_add' }).apply([pooled, shortcut]) as tf.SymbolicTensor;
  const bypass = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'bypass_pool' }).apply(stem) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate({ name: 'head_concat' }).apply([residual, bypass]) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'head_gap' }).apply(merged) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(4), name: 'classifier' }).apply(gap) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'tiny_branchy' });
}

/** Deterministic pseudo-random values in [0, 1). */
export function seededValues(length: number, seed: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  });
}
