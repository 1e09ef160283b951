import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { EngineError } from '../errors.ts';
import { Explainer } from '../explainer.ts';
import { fixtureInput } from '../test-support/fixture-images.ts';
import { discoverGraphNodes } from './graph-model-runner.ts';
import { loadModel } from './load-model.ts';

const mobilenet = 'StatefulPartitionedCall/sequential/keras_layer/StatefulPartitionedCall/StatefulPartitionedCall/StatefulPartitionedCall/predict/MobilenetV2/';

describe('graph model targets', () => {
  before(() => selectBackend('wasm'));

  test('a target inside a residual block is TARGET_LAYER_INVALID at load, naming the skip connection', async () => {
    const before = tf.memory().numTensors;
    await assert.rejects(
      loadModel('nsfw-mobilenet-v2-graph', { targetLayer: `${mobilenet}expanded_conv_15/expand/Relu6` }),
      (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_INVALID' && /skip connection/.test(e.message) && /after the last merge/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, before, 'the refused model and the check\'s dummy tensor are disposed');
  });

  test('the default target and a mid-network one after the last merge load and explain', async () => {
    const input = await fixtureInput('cartoon-open-peeps.jpg', 224);
    for (const targetLayer of [undefined, `${mobilenet}expanded_conv_16/expand/Relu6`]) {
      const before = tf.memory().numTensors;
      const loaded = await loadModel('nsfw-mobilenet-v2-graph', { targetLayer });
      const loadedTensors = tf.memory().numTensors;
      const { images } = await new Explainer(loaded).explain([input]);
      assert.equal(tf.memory().numTensors, loadedTensors);
      const [map] = images[0]?.maps ?? [];
      assert.equal(map?.raw.length, 49);
      loaded.runner.dispose();
      assert.equal(tf.memory().numTensors, before);
    }
  });
});

test('a global max pool (a Max node, as GlobalMaxPooling2D converts) is the pooling the target feeds, not a MaxPool in the trunk', () => {
  // input → stem (MaxPool 2×2) → features → Max over [1, 2] → logits → Softmax: the target is
  // `features`; walking past the Max took the stem's input, the image itself.
  const chain = ['input:Placeholder', 'stem:MaxPool', 'features:Relu', 'gmp:Max', 'logits:MatMul', 'probabilities:Softmax'].map((entry) => entry.split(':') as [string, string]);
  const node = chain.map(([name, op], i) => ({ name, op, input: i === 0 ? [] : [`${chain[i - 1]?.[0]}:0`] }));
  assert.deepEqual(discoverGraphNodes({ modelTopology: { node } }, 'probabilities'), { logitsNode: 'logits', targetNode: 'features' });
});
