import * as tf from '@tensorflow/tfjs';

const init = (seed: number) => tf.initializers.glorotUniform({ seed });

/** How a test model ends: softmax/sigmoid on the Dense, as a separate Activation layer, or none. */
export type ModelEnding = 'sigmoid' | 'sigmoid-layer' | 'linear';

/**
 * conv (`target`, 8×8×4) → global average pool → Dense(`units`). The Dense bias sets how far the
 * scores sit from zero: −3 makes a one-unit model say "negative" for most inputs.
 */
export function sigmoidClassifier(units: number, ending: ModelEnding = 'sigmoid', bias = -3): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'target' }).apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tf.SymbolicTensor;
  const dense = tf.layers.dense({
    units,
    activation: ending === 'sigmoid' ? 'sigmoid' : 'linear',
    kernelInitializer: init(2),
    biasInitializer: tf.initializers.constant({ value: bias }),
    name: 'classifier',
  }).apply(gap) as tf.SymbolicTensor;
  const output = ending === 'sigmoid-layer' ? (tf.layers.activation({ activation: 'sigmoid', name: 'probability' }).apply(dense) as tf.SymbolicTensor) : dense;
  return tf.model({ inputs: input, outputs: output, name: `sigmoid_${units}` });
}

/**
 * A 1×1-conv classifier head, as Keras' MobileNet (v1) has: conv (`target`, 8×8×4) → global
 * average pool → Reshape [1, 1, 4] → Conv2D(`units`, 1×1) `conv_preds` → the `activation` and a
 * Reshape to [units], in `order`: older Keras applications (and the TensorFlow.js MobileNet v1
 * layers models) put the softmax before the Reshape, later ones after it. Same weights either way.
 */
export function conv1x1Classifier(order: 'activation-reshape' | 'reshape-activation', activation: 'softmax' | 'sigmoid' = 'softmax', units = 3): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3], name: 'image' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'target' }).apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as tf.SymbolicTensor;
  const column = tf.layers.reshape({ targetShape: [1, 1, 4], name: 'reshape_1' }).apply(gap) as tf.SymbolicTensor;
  const preds = tf.layers.conv2d({ filters: units, kernelSize: 1, kernelInitializer: init(2), biasInitializer: tf.initializers.constant({ value: 0.5 }), name: 'conv_preds' }).apply(column) as tf.SymbolicTensor;
  const squash = tf.layers.activation({ activation, name: `act_${activation}` });
  const flat = tf.layers.reshape({ targetShape: [units], name: 'reshape_2' });
  const output = order === 'activation-reshape' ? flat.apply(squash.apply(preds)) : squash.apply(flat.apply(preds));
  return tf.model({ inputs: input, outputs: output as tf.SymbolicTensor, name: `conv1x1_${order}` });
}

/**
 * The Keras transfer-learning shape: a base model (16×16 in, ends in `out_relu`, 8×8×6) used as
 * ONE layer, `base_model`, of the classifier: image → base_model → GAP → Dense(3, softmax).
 */
export function nestedTransferModel(): tf.LayersModel {
  const baseInput = tf.input({ shape: [16, 16, 3] });
  const c1 = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(1), name: 'base_conv1' }).apply(baseInput) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2), name: 'out_relu' }).apply(c1) as tf.SymbolicTensor;
  const base = tf.model({ inputs: baseInput, outputs: c2, name: 'base_model' });
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  const features = base.apply(input) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(features) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(3), name: 'classifier' }).apply(gap) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'transfer' });
}

/** The model's saved form (model.json topology + weights), as a converted model arrives. */
export async function saveToArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error(`model ${model.name} was not saved`);
  return saved;
}

/**
 * Saved and loaded back, the original disposed: what the engine meets, with the deserialised
 * graph's node structure.
 */
export async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  const artifacts = await saveToArtifacts(model);
  model.dispose();
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}
