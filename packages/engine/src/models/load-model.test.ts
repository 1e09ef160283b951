import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backends/select-backend.ts';
import { EngineError } from '../errors.ts';
import { seededValues, tinyBranchyModel } from '../test-support/tiny-model.ts';
import { builtinModels } from './builtin-models.ts';
import { descriptorFileName, loadModel, loadModelFromArtifacts } from './load-model.ts';
import { modelWeightsSha256 } from './weights-sha256.ts';

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

test('a declared version is a label: the same folder with one weight changed loads under it with another weightsSha256, the same weights with the same one', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  const [shipped, retrained] = [join(parent, 'shipped'), join(parent, 'retrained')];
  const original = tinyBranchyModel();
  try {
    await mkdir(shipped);
    await saveToDirectory(original, shipped);
    await writeFile(join(shipped, descriptorFileName), JSON.stringify({ name: 'tiny', version: '7', labels: ['a', 'b', 'c'], targetLayer: 'target' }));
    await cp(shipped, retrained, { recursive: true });
    // One float of the stem's kernel moved, as a retraining would: same version declared.
    const shard = join(retrained, 'group1-shard1of1.bin');
    const bytes = await readFile(shard);
    bytes.writeFloatLE(bytes.readFloatLE(0) + 0.25, 0);
    await writeFile(shard, bytes);

    const [a, again, b] = [await loadModel(shipped), await loadModel(shipped), await loadModel(retrained)];
    assert.equal(b.descriptor.version, a.descriptor.version);
    assert.match(a.weightsSha256, /^[0-9a-f]{64}$/);
    assert.equal(again.weightsSha256, a.weightsSha256);
    assert.notEqual(b.weightsSha256, a.weightsSha256);
    // The weights differ where the version does not: other outputs.
    const x = tf.tensor4d(seededValues(8 * 8 * 3, 1), [1, 8, 8, 3]);
    const [la, lb] = tf.tidy(() => [a.runner.logits(x).dataSync(), b.runner.logits(x).dataSync()]);
    assert.notDeepEqual(lb, la);
    x.dispose();
    for (const m of [a, again, b]) m.runner.dispose();
  } finally {
    original.dispose();
    await rm(parent, { recursive: true, force: true });
  }
});

test('weightsSha256 covers the weight specs too (the same bytes read in another order are another model), and shards given apart hash as one', () => {
  const [k1, k2] = [{ name: 'k1', shape: [2], dtype: 'float32' as const }, { name: 'k2', shape: [2], dtype: 'float32' as const }];
  const artifacts = { modelTopology: { a: 1 }, weightSpecs: [k1, k2], weightData: new Float32Array([1, 2, 3, 4]).buffer };
  assert.equal(modelWeightsSha256({ ...artifacts }), modelWeightsSha256(artifacts));
  assert.notEqual(modelWeightsSha256({ ...artifacts, weightSpecs: [k2, k1] }), modelWeightsSha256(artifacts));
  assert.equal(modelWeightsSha256({ ...artifacts, weightData: [new Float32Array([1, 2]).buffer, new Float32Array([3, 4]).buffer] }), modelWeightsSha256(artifacts));
});

test('a directory without weights is MODEL_INVALID, without model.json MODEL_NOT_FOUND', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND');
  await writeFile(join(dir, 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['missing.bin'], weights: [] }] }));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID');
});

test('a folder that is not a TensorFlow.js model, or whose model.json is not JSON, says which, naming the folder once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  try {
    await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_NOT_FOUND' && e.message === `${dir} is not a TensorFlow.js model folder: it has no model.json`);
    await writeFile(join(dir, 'model.json'), '{not json');
    await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && e.message.startsWith(`${join(dir, 'model.json')} is not valid JSON: `));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a model with no convolutional layer, or no layer of the name given, is named as the user knows it, not by Keras' own name", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  try {
    const input = tf.input({ shape: [8, 8, 3] });
    const flat = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 4, activation: 'relu', name: 'hidden' }).apply(flat) as tf.SymbolicTensor;
    const output = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(hidden) as tf.SymbolicTensor;
    const dense = tf.model({ inputs: input, outputs: output, name: 'keras_inner_name' });
    await saveToDirectory(dense, dir);
    await writeFile(join(dir, descriptorFileName), JSON.stringify({ name: 'dense-only' }));
    await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_NOT_FOUND' && /^model dense-only has no layer with a spatial 4-D output/.test(e.message) && e.message.includes('convolutional'));
    dense.dispose();
    const mobilenet = builtinModels.find((m) => m.descriptor.name === 'nsfw-mobilenet-v2');
    assert.ok(mobilenet);
    await assert.rejects(loadModel('nsfw-mobilenet-v2', { targetLayer: 'dense' }), (e: unknown) => e instanceof EngineError && e.code === 'TARGET_LAYER_NOT_FOUND' && e.message.startsWith('model nsfw-mobilenet-v2 has no layer "dense"'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a gradcam-model.json with a missing, zero or mistyped field is MODEL_INVALID naming the field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  const original = tinyBranchyModel();
  await saveToDirectory(original, dir);
  original.dispose();
  const preprocessing = { width: 8, height: 8, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  const cases: [unknown, RegExp][] = [
    [{ preprocessing: { ...preprocessing, mean: undefined, std: undefined } }, /preprocessing\.mean: .*; preprocessing\.std: /],
    [{ preprocessing: { ...preprocessing, std: [0, 0, 0] } }, /preprocessing\.std\[0\]: Too small: expected number to be >0/],
    [{ preprocessing: { ...preprocessing, fit: 'stretch' } }, /preprocessing\.fit: /],
    [{ labels: 'a,b,c' }, /labels: must be an array of strings/],
    [{ name: 7 }, /name: must be a non-empty string/],
    [{ format: 'keras' }, /format: must be "layers" or "graph"/],
    [[1, 2], /must hold a JSON object/],
  ];
  for (const [declared, message] of cases) {
    await writeFile(join(dir, descriptorFileName), JSON.stringify(declared));
    await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && message.test(e.message) && e.message.includes(descriptorFileName), JSON.stringify(declared));
  }
  await writeFile(join(dir, descriptorFileName), '{"preprocessing": {"width": 8, "height": 8, "fit": "fill", "channelOrder": "rgb", "scale": 1, "mean": [0, 0, 0], "std": [1e999, 1, 1]}}');
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && /preprocessing\.std\[0\]/.test(e.message));
});

test('a declared input size the model cannot take is MODEL_INVALID at load, for a folder and for the built-in MobileNetV2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  const original = tinyBranchyModel();
  await saveToDirectory(original, dir);
  original.dispose();
  const preprocessing = { width: 10, height: 10, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  await writeFile(join(dir, descriptorFileName), JSON.stringify({ preprocessing }));
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && /takes 8×8 inputs but its preprocessing declares 10×10/.test(e.message));

  const mobilenet = builtinModels.find((m) => m.descriptor.name === 'nsfw-mobilenet-v2');
  assert.ok(mobilenet);
  const before = tf.memory().numTensors;
  const declared300 = { ...mobilenet.descriptor, preprocessing: { ...mobilenet.descriptor.preprocessing, width: 300, height: 300 } };
  await assert.rejects(loadModelFromArtifacts(declared300, mobilenet.read()), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && /takes 224×224 inputs/.test(e.message));
  assert.equal(tf.memory().numTensors, before, 'the refused model\'s weights are disposed');
  const zeroStd = { ...mobilenet.descriptor, preprocessing: { ...mobilenet.descriptor.preprocessing, std: [0, 0, 0] as [number, number, number] } };
  await assert.rejects(loadModelFromArtifacts(zeroStd, mobilenet.read()), (e: unknown) => e instanceof EngineError && e.code === 'MODEL_INVALID' && /preprocessing\.std\[0\]/.test(e.message));
  const loaded = await loadModelFromArtifacts(mobilenet.descriptor, mobilenet.read());
  assert.deepEqual(loaded.runner.targetShape, [7, 7, 1280]);
  loaded.runner.dispose();
});

test('with keySafeIdentity (the worker), a name or version that cannot be a storage key segment is MODEL_NAME_INVALID at load, naming the field, the value and the rule; without it (gradcam explain) a folder named "ResNet 50" loads', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'gradcam-model-'));
  try {
    const dir = join(parent, 'ResNet 50');
    await mkdir(dir);
    const original = tinyBranchyModel();
    await saveToDirectory(original, dir);
    original.dispose();
    const rule = /are 1–64 characters of A–Z, a–z, 0–9, "\.", "_" or "-"/;
    const refused = (field: string, value: string, where: string) => (e: unknown) =>
      e instanceof EngineError && e.code === 'MODEL_NAME_INVALID' && e.message.startsWith(`${where}: ${field}: `) && e.message.includes(JSON.stringify(value)) && rule.test(e.message);
    // gradcam explain: the folder's name is only a label, never a key.
    const plain = await loadModel(dir);
    assert.equal(plain.descriptor.name, 'ResNet 50');
    plain.runner.dispose();
    const keySafe = { keySafeIdentity: true };
    // The worker: without a descriptor the folder's name is the model's, and a record could never name it.
    await assert.rejects(loadModel(dir, keySafe), refused('name', 'ResNet 50', dir));
    const file = join(dir, descriptorFileName);
    await writeFile(file, JSON.stringify({ version: '1.0.0+build.5' }));
    await assert.rejects(loadModel(dir, keySafe), refused('name', 'ResNet 50', dir));
    await writeFile(file, JSON.stringify({ name: 'resnet-50', version: '1.0.0+build.5' }));
    await assert.rejects(loadModel(dir, keySafe), refused('version', '1.0.0+build.5', file));
    await writeFile(file, JSON.stringify({ name: '..' }));
    await assert.rejects(loadModel(dir, keySafe), refused('name', '..', file));
    await writeFile(file, JSON.stringify({ name: 'resnet-50', version: '1.0.0-build.5' }));
    const loaded = await loadModel(dir, keySafe);
    assert.deepEqual([loaded.descriptor.name, loaded.descriptor.version], ['resnet-50', '1.0.0-build.5']);
    loaded.runner.dispose();

    const mobilenet = builtinModels.find((m) => m.descriptor.name === 'nsfw-mobilenet-v2');
    assert.ok(mobilenet);
    const before = tf.memory().numTensors;
    await assert.rejects(loadModelFromArtifacts({ ...mobilenet.descriptor, version: '4.4.0+b1' }, mobilenet.read(), keySafe), refused('version', '4.4.0+b1', 'model "nsfw-mobilenet-v2"'));
    assert.equal(tf.memory().numTensors, before, 'refused before any weight is loaded');
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
