import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { EngineError } from '../errors.ts';
import { Explainer } from '../explainer.ts';
import { fixtureInput } from '../test-support/fixture-images.ts';
import { loadModel } from './load-model.ts';
import { builtinModels } from './builtin-models.ts';
import { readNsfwjsModel } from './nsfwjs-bundle.ts';
import { modelWeightsSha256 } from './weights-sha256.ts';

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

  test('each built-in reports the sha256 of the weights its version label names (nsfwjs 4.4.0), layers and graph models alike', async () => {
    // Pinned: an nsfwjs upgrade that ships other weights fails here, so that the version label in
    // builtin-models.ts is bumped with it; manifests record the hash either way.
    const pinned: Record<string, string> = {
      'nsfw-mobilenet-v2': '7061dc148211a169135e80aee4022d08ce15df6c9ccf420691afe5932000da54',
      'nsfw-mobilenet-v2-graph': 'e99c1cfb2cc2ab3c2abc05791242671c4ef15012bd58b69ed2ca0c9cabb1cdf8',
      'nsfw-inception-v3': '4cfdf9ef53d8cc4121a579f52eca7ad0644bc38b02d469be24d1689b6f2c47f7',
    };
    assert.deepEqual(builtinModels.map((m) => m.descriptor.version), ['nsfwjs-4.4.0', 'nsfwjs-4.4.0', 'nsfwjs-4.4.0']);
    for (const name of ['nsfw-mobilenet-v2', 'nsfw-mobilenet-v2-graph']) {
      const loaded = await loadModel(name);
      assert.equal(loaded.weightsSha256, pinned[name], name);
      loaded.runner.dispose();
    }
    // InceptionV3 is not loaded (seconds on wasm): its artifacts hash as pinned.
    const inception = builtinModels.find((m) => m.descriptor.name === 'nsfw-inception-v3');
    assert.equal(inception && modelWeightsSha256(inception.read()), pinned['nsfw-inception-v3']);
  });

  test('unknown models and layers are typed errors', async () => {
    await assert.rejects(loadModel('nope'), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND');
    await assert.rejects(loadModel('nsfw-mobilenet-v2', { targetLayer: 'dense_3' }), (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_INVALID');
  });
});
