import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backends/select-backend.ts';
import { EngineError } from './errors.ts';
import { Explainer, type ImageExplanation } from './explainer.ts';
import { scoreCamMasks } from './methods/score-cam.ts';
import { type LoadedModel, loadModelFromArtifacts } from './models/load-model.ts';
import type { ModelDescriptor } from './models/model-descriptor.ts';
import { conv1x1Classifier, saveToArtifacts, sigmoidClassifier } from './test-support/classifier-models.ts';
import { seededValues } from './test-support/tiny-model.ts';

const preprocessing: ModelDescriptor['preprocessing'] = { width: 8, height: 8, fit: 'fill', channelOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1] };
const descriptor = (labels: string[]): ModelDescriptor => ({ name: 'sigmoid', version: '1', format: 'layers', preprocessing, labels });
const input = seededValues(8 * 8 * 3, 7);

/** The model's own probabilities for one image, from predict(): what the engine must report. */
function modelProbabilities(model: tf.LayersModel, image: Float32Array): number[] {
  return tf.tidy(() => Array.from((model.predict(tf.tensor4d(image, [1, 8, 8, 3])) as tf.Tensor).dataSync()));
}

/**
 * Score-CAM computed from the model's predict() on every channel's masked input (all channels):
 * ReLU(Σ_k p_k(class) A_k), with `probability` turning the model's output row into the class's.
 */
function scoreCamFromPredict(model: tf.LayersModel, loaded: LoadedModel, image: Float32Array, probability: (row: number[]) => number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(image, [1, 8, 8, 3]);
    const { activations } = loaded.runner.trunk(x);
    const [, h, w, channels] = activations.shape;
    const perChannel = tf.reshape(activations, [h, w, channels]) as tf.Tensor3D;
    const masks = scoreCamMasks(perChannel, 8, 8);
    const rows = (model.predict(tf.mul(x, masks)) as tf.Tensor).arraySync() as number[][];
    const weights = tf.tensor1d(rows.map(probability));
    return tf.relu(tf.sum(tf.mul(perChannel, weights), 2)).dataSync() as Float32Array;
  });
}

function assertClose(got: readonly number[] | Float32Array, expected: readonly number[] | Float32Array, what: string): void {
  assert.equal(got.length, expected.length, what);
  got.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-5, `${what}[${i}]: ${v} vs ${expected[i]}`));
}

describe('Explainer on sigmoid classifiers (saved and loaded)', () => {
  before(() => selectBackend('wasm'));

  test('one sigmoid unit: two classes, probabilities [1 − p, p], the negative predicted, Grad-CAM of each class the other\'s opposite', async () => {
    for (const [bias, expectedClass] of [[-3, 0], [3, 1]] as const) {
      const model = sigmoidClassifier(1, 'sigmoid', bias);
      const loaded = await loadModelFromArtifacts(descriptor(['no cat', 'cat']), await saveToArtifacts(model));
      assert.equal(loaded.runner.numClasses, 2);
      const explainer = new Explainer(loaded);
      const before = tf.memory().numTensors;
      const { images: [image] } = await explainer.explain([input], { methods: ['gradcam', 'scorecam'], targets: { kind: 'classes', classes: [0, 1] }, scoreCam: { maxChannels: 0 } });
      assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
      assert.ok(image);
      const [p] = modelProbabilities(model, input) as [number];
      assert.equal(p < 0.5, bias < 0, `the bias decides the model's answer (p = ${p})`);
      assertClose(image.probabilities, [1 - p, p], `bias ${bias}: probabilities`);
      assert.equal(image.predictedClass, expectedClass, `p = ${p}`);
      assert.equal(image.predictedLabel, ['no cat', 'cat'][expectedClass]);
      assert.equal(image.logits[0], -(image.logits[1] as number));
      // Class 0's score is −z: its gradients are class 1's negated, so where one map has evidence
      // the other has none.
      const [negative, positive] = image.maps.filter((m) => m.method === 'gradcam');
      assert.deepEqual([negative?.classIndex, positive?.classIndex], [0, 1]);
      assert.ok(negative && positive && negative.raw.some((v, i) => v > 0 || (positive.raw[i] as number) > 0), 'some evidence either way');
      negative?.raw.forEach((v, i) => assert.ok(v === 0 || positive?.raw[i] === 0, `cell ${i} is evidence for both classes`));
      // Score-CAM weighs each masked image by the model's own probability of the class.
      const scoreMaps = image.maps.filter((m) => m.method === 'scorecam');
      assertClose(scoreMaps[0]?.raw as Float32Array, scoreCamFromPredict(model, loaded, input, (row) => 1 - (row[0] as number)), 'Score-CAM, class 0');
      assertClose(scoreMaps[1]?.raw as Float32Array, scoreCamFromPredict(model, loaded, input, (row) => row[0] as number), 'Score-CAM, class 1');
      model.dispose();
      loaded.runner.dispose();
    }
  });

  test('three sigmoid units (multi-label): probabilities are the model\'s, not renormalised to sum 1', async () => {
    const model = sigmoidClassifier(3);
    const loaded = await loadModelFromArtifacts(descriptor(['a', 'b', 'c']), await saveToArtifacts(model));
    const explainer = new Explainer(loaded);
    const before = tf.memory().numTensors;
    const { images: [image] } = await explainer.explain([input], { methods: ['scorecam'], targets: { kind: 'classes', classes: [2] }, scoreCam: { maxChannels: 0 } });
    const logits = await explainer.predict([input]);
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    const expected = modelProbabilities(model, input);
    assertClose(image?.probabilities ?? [], expected, 'probabilities');
    assertClose(Array.from(logits, (z) => 1 / (1 + Math.exp(-z))), expected, 'sigmoid of predict()');
    assert.equal(image?.predictedClass, expected.indexOf(Math.max(...expected)));
    assertClose(image?.maps[0]?.raw as Float32Array, scoreCamFromPredict(model, loaded, input, (row) => row[2] as number), 'Score-CAM, class 2');
    model.dispose();
    loaded.runner.dispose();
  });

  test('one label for a one-unit model is MODEL_INVALID saying a binary model has two classes', async () => {
    const model = sigmoidClassifier(1);
    const artifacts = await saveToArtifacts(model);
    model.dispose();
    const before = tf.memory().numTensors;
    await assert.rejects(
      loadModelFromArtifacts(descriptor(['cat']), artifacts),
      (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && /has 2 classes but 1 labels/.test(e.message) && /0 = negative and 1 = positive/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before, 'the refused model is disposed');
  });
});

describe('Explainer on a 1×1-conv classifier whose softmax or sigmoid comes before its final Reshape', () => {
  before(() => selectBackend('wasm'));

  // Keras' MobileNet (v1), as the TensorFlow.js MobileNet v1 layers models have it: conv_preds →
  // Activation('softmax') → Reshape((classes,)). Read from the Reshape, the probabilities were
  // taken for logits: differentiated, and put through a second softmax for the manifest.
  test('the logit is differentiated and the probabilities are the model\'s: as for the same model with the Reshape first', async () => {
    for (const [activation, units, labels] of [['softmax', 3, ['a', 'b', 'c']], ['sigmoid', 1, ['no', 'yes']]] as const) {
      const results = [];
      for (const order of ['activation-reshape', 'reshape-activation'] as const) {
        const model = conv1x1Classifier(order, activation, units);
        const loaded = await loadModelFromArtifacts(descriptor([...labels]), await saveToArtifacts(model));
        const what = `${activation}, ${order}`;
        assert.equal(loaded.runner.outputActivation, activation, what);
        assert.equal(loaded.runner.numClasses, labels.length, what);
        const before = tf.memory().numTensors;
        const { images: [image] } = await new Explainer(loaded).explain([input], {
          methods: ['gradcam', 'gradcam++', 'scorecam'],
          targets: { kind: 'classes', classes: labels.map((_, c) => c) },
          scoreCam: { maxChannels: 0 },
        });
        assert.equal(tf.memory().numTensors, before, `${what}: no tensors left behind`);
        assert.ok(image);
        const p = modelProbabilities(model, input);
        assertClose(image.probabilities, units === 1 ? [1 - (p[0] as number), p[0] as number] : p, `${what}: probabilities`);
        results.push(image);
        model.dispose();
        loaded.runner.dispose();
      }
      const [late, early] = results as [ImageExplanation, ImageExplanation];
      assertClose(late.logits, early.logits, `${activation}: logits`);
      assert.equal(late.maps.length, early.maps.length);
      late.maps.forEach((map, i) => {
        const other = early.maps[i];
        assert.deepEqual([map.method, map.classIndex], [other?.method, other?.classIndex]);
        assertClose(map.raw, other?.raw ?? [], `${activation}: ${map.method} map of class ${map.classIndex}`);
      });
    }
  });
});
