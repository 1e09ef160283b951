import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { EngineError } from '../errors.ts';
import { Explainer } from '../explainer.ts';
import { fixtureInput } from '../test-support/fixture-images.ts';
import { loadModel } from './load-model.ts';
import { readNsfwjsModel } from './nsfwjs-bundle.ts';

describe('the built-in graph model', () => {
  before(() => selectBackend('wasm'));

  test('finds Conv_1/Relu6 and the pre-softmax node; softmax(head) equals the model output', async () => {
    const loaded = await loadModel('nsfw-mobilenet-v2-graph');
    assert.match(loaded.runner.targetLayer, /MobilenetV2\/Conv_1\/Relu6$/);
    assert.deepEqual(loaded.runner.targetShape, [7, 7, 1792]);
    const input = await fixtureInput('cartoon-open-peeps.jpg', 224);
    const graph = await tf.loadGraphModel(tf.io.fromMemory(readNsfwjsModel('mobilenet_v2_mid')));
    const x = tf.tensor4d(input, [1, 224, 224, 3]);
    const expected = (graph.execute(x) as tf.Tensor).dataSync();
    const got = tf.tidy(() => {
      const { activations } = loaded.runner.trunk(x);
      return tf.softmax(loaded.runner.head(activations, [])).dataSync();
    });
    got.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-5));
    tf.dispose([x]);
    graph.dispose();

    const explainer = new Explainer(loaded);
    const before = tf.memory().numTensors;
    const { images } = await explainer.explain([input], { methods: ['gradcam', 'scorecam'], scoreCam: { maxChannels: 8, batchSize: 4 } });
    assert.equal(tf.memory().numTensors, before);
    const [gradcam, scorecam] = images[0]?.maps ?? [];
    assert.equal(gradcam?.raw.length, 49);
    assert.ok((gradcam?.stats.max ?? 0) > 0);
    assert.ok(scorecam?.raw.every((v) => v >= 0) && (scorecam?.stats.max ?? 0) > 0);
    loaded.runner.dispose();
  });

  test('unknown models and layers are typed errors', async () => {
    await assert.rejects(loadModel('nope'), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND');
    await assert.rejects(loadModel('nsfw-mobilenet-v2', { targetLayer: 'dense_3' }), (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_INVALID');
  });
});
