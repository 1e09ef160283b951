import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { EngineError } from '../errors.ts';
import { seededValues, tinyBranchyModel } from '../test-support/tiny-model.ts';
import { descriptorFileName, loadModel } from './load-model.ts';

/** Saves a model the way the TensorFlow.js converter lays it out: model.json + one shard. */
async function saveToDirectory(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeFile(join(dir, 'group1-shard1of1.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      const json = {
        format: 'layers-model',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

before(() => selectBackend('wasm'));

test('loads a model directory with its descriptor file, and gives the saved model\'s outputs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  const original = tinyBranchyModel();
  await saveToDirectory(original, dir);
  await writeFile(join(dir, descriptorFileName), JSON.stringify({ name: 'tiny', version: '7', labels: ['a', 'b', 'c'], targetLayer: 'target' }));
  const loaded = await loadModel(dir);
  assert.equal(loaded.descriptor.name, 'tiny');
  assert.equal(loaded.descriptor.version, '7');
  assert.equal(loaded.descriptor.format, 'layers');
  assert.deepEqual([loaded.descriptor.preprocessing.width, loaded.descriptor.preprocessing.height], [8, 8]);
  assert.equal(loaded.runner.targetLayer, 'target');
  const x = tf.tensor4d(seededValues(8 * 8 * 3, 1), [1, 8, 8, 3]);
  const expected = (original.predict(x) as tf.Tensor).dataSync();
  const got = tf.tidy(() => tf.softmax(loaded.runner.logits(x)).dataSync());
  got.forEach((v, i) => assert.ok(Math.abs(v - (expected[i] as number)) < 1e-6));
  x.dispose();
  loaded.runner.dispose();
  original.dispose();
});

test('without a descriptor: name from the folder, version from the weights hash', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  const original = tinyBranchyModel();
  await saveToDirectory(original, dir);
  const loaded = await loadModel(dir);
  assert.match(loaded.descriptor.version, /^sha256-[0-9a-f]{12}$/);
  assert.equal(loaded.runner.targetLayer, 'head_concat');
  loaded.runner.dispose();
  original.dispose();
});

test('a directory without weights is MODEL_INVALID, without model.json MODEL_NOT_FOUND', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND');
  await writeFile(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['missing.bin'], weights: [] }] }));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID');
});
