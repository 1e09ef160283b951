import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { explanationManifestSchema } from '@gradcam/contracts';
import { Explainer, type ImageExplanation, type LoadedModel, type MethodName, builtinModels, descriptorFileName, loadModel, modelWeightsSha256, selectBackend } from '@gradcam/engine';
import { type ColormapName, type DecodedImage, type OverlayOptions, decodeImage, decodeNpy, imagingInfo, overlayBase, renderOverlay, toModelInput } from '@gradcam/imaging';
import sharp from 'sharp';
import { buildImageArtifacts } from './build-artifacts.ts';
import { fingerprint } from './engine-fingerprint.ts';

// The built-in MobileNetV2 on a real photo: the manifest is built from what the engine computed.
const photoPath = new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url);
let model: LoadedModel;
let explainer: Explainer;
let bytes: Buffer;
let image: DecodedImage;
let input: Float32Array;

before(async () => {
  await selectBackend('wasm');
  model = await loadModel('nsfw-mobilenet-v2');
  explainer = new Explainer(model);
  bytes = await readFile(photoPath);
  image = await decodeImage(bytes);
  input = await toModelInput(image, model.descriptor.preprocessing);
});

async function explained(methods: MethodName[], maxChannels: number): Promise<ImageExplanation> {
  const { images } = await explainer.explain([input], { methods, scoreCam: { maxChannels, batchSize: 4 } });
  return images[0] as ImageExplanation;
}

const timings = { batchSize: 1, decodeMs: 0, forwardMs: 0, backwardMs: 0, mapsMs: 0 };
const build = (explanation: ImageExplanation) => buildImageArtifacts({ source: 'sheep.jpg', bytes, image, explanation, model, backend: 'wasm', timings });

test("Score-CAM's channel count is recorded on its entries and is part of the fingerprint; other methods' manifests do not depend on it", async () => {
  const [four, eight] = await Promise.all([build(await explained(['gradcam', 'scorecam'], 4)), build(await explained(['gradcam', 'scorecam'], 8))]);
  for (const [artifacts, channels] of [[four, 4], [eight, 8]] as const) {
    explanationManifestSchema.parse(artifacts.manifest);
    assert.deepEqual(
      artifacts.manifest.explanations.map((e) => [e.method, e.channels]),
      [['gradcam', undefined], ['scorecam', channels]],
    );
  }
  assert.notEqual(four.manifest.fingerprint, eight.manifest.fingerprint, 'different maps, different fingerprints');
  const [gradcamFour, gradcamEight] = await Promise.all([build(await explained(['gradcam'], 4)), build(await explained(['gradcam'], 8))]);
  assert.equal(gradcamFour.manifest.fingerprint, gradcamEight.manifest.fingerprint);
  assert.notEqual(gradcamFour.manifest.fingerprint, four.manifest.fingerprint);
});

test('a map or a score that is NaN or infinite is refused by name (EXPLANATION_NOT_FINITE), before anything is built', async () => {
  const real = await explained(['gradcam', 'gradcam++'], 4);
  const [gradcam, plusPlus] = real.maps as [ImageExplanation['maps'][number], ImageExplanation['maps'][number]];
  const poisoned = Float32Array.from(plusPlus.raw);
  poisoned[3] = Number.NaN;
  await assert.rejects(build({ ...real, maps: [gradcam, { ...plusPlus, raw: poisoned }] }), {
    code: 'EXPLANATION_NOT_FINITE',
    message: /the gradcam\+\+ map for class \d+ holds NaN or infinite values/,
  });
  await assert.rejects(build({ ...real, logits: [Number.POSITIVE_INFINITY, ...real.logits.slice(1)] }), { code: 'EXPLANATION_NOT_FINITE', message: /NaN or infinite score/ });
  // The same explanation untouched builds.
  assert.equal((await build(real)).manifest.explanations.length, 2);
});

test('the manifest records the imaging code, sharp and libvips that made the model input, and the fingerprint covers them', async () => {
  const { manifest } = await build(await explained(['gradcam'], 4));
  assert.deepEqual(explanationManifestSchema.parse(manifest).imaging, imagingInfo);
  assert.equal(fingerprint(manifest), manifest.fingerprint);
  // Another libvips or imaging version can make another model input from the same bytes (a level
  // off in a tenth of the values moves this map by 2-6% of its peak): another fingerprint.
  for (const imaging of [{ ...imagingInfo, libvips: '8.15.0' }, { ...imagingInfo, version: '9.9.9' }, { ...imagingInfo, resizeKernel: 'cubic' }]) {
    assert.notEqual(fingerprint({ ...manifest, imaging }), manifest.fingerprint, JSON.stringify(imaging));
  }
});

test('a manifest written before imaging was recorded keeps the fingerprint it was written with', () => {
  // explanation.json of sheep-pastoral.jpg, gradcam, engine 0.2.0 (tfjs 4.22.0), as written before.
  const preprocessing = { width: 224, height: 224, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] } as const;
  const old = {
    model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', format: 'layers', targetLayer: 'out_relu', targetShape: [7, 7, 1280], labels: [] },
    engine: { version: '0.2.0', tfjsVersion: '4.22.0', backend: 'wasm' },
    preprocessing: { ...preprocessing, mean: [...preprocessing.mean], std: [...preprocessing.std] },
    explanations: [],
  } as unknown as Parameters<typeof fingerprint>[0];
  assert.equal(fingerprint(old), '421c427e94889b43340ec0f7fd53a5323012869b206fd2a64bc38737caf2a4df');
});

test("the built-in model's manifest records the sha256 of its weights, and the fingerprint covers it", async () => {
  const { manifest } = await build(await explained(['gradcam'], 4));
  const builtin = builtinModels.find((m) => m.descriptor.name === 'nsfw-mobilenet-v2');
  assert.equal(explanationManifestSchema.parse(manifest).model.weightsSha256, builtin && modelWeightsSha256(builtin.read()));
  assert.equal(manifest.model.weightsSha256, model.weightsSha256);
  assert.equal(fingerprint(manifest), manifest.fingerprint);
  assert.notEqual(fingerprint({ ...manifest, model: { ...manifest.model, weightsSha256: 'f'.repeat(64) } }), manifest.fingerprint);
});

test('one model folder under one declared version: retrained weights (one value moved) give another weightsSha256 and fingerprint, the same weights the same ones', async () => {
  // The built-in MobileNetV2 as a user's folder declares it (model.json + shard + gradcam-model.json).
  const parent = await mkdtemp(join(tmpdir(), 'gradcam-weights-'));
  const [shipped, copied, retrained] = ['shipped', 'copied', 'retrained'].map((name) => join(parent, name)) as [string, string, string];
  try {
    const artifacts = (builtinModels.find((m) => m.descriptor.name === 'nsfw-mobilenet-v2') as (typeof builtinModels)[number]).read();
    await mkdir(shipped);
    await writeFile(join(shipped, 'group1-shard1of1.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
    await writeFile(join(shipped, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }] }));
    const { name, labels, preprocessing } = model.descriptor;
    await writeFile(join(shipped, descriptorFileName), JSON.stringify({ name: 'moderation', version: '2.1.0', labels, preprocessing: { ...preprocessing, mean: [...preprocessing.mean], std: [...preprocessing.std] } }));
    await cp(shipped, copied, { recursive: true });
    await cp(shipped, retrained, { recursive: true });
    // One value of the first convolution's kernel moved, as a retraining would; the version stays.
    const shard = join(retrained, 'group1-shard1of1.bin');
    const weights = await readFile(shard);
    weights.writeFloatLE(weights.readFloatLE(0) + 0.5, 0);
    await writeFile(shard, weights);

    const manifests = [];
    for (const folder of [shipped, copied, retrained]) {
      const loaded = await loadModel(folder);
      const { images } = await new Explainer(loaded).explain([input], { methods: ['gradcam'] });
      const explanation = images[0] as ImageExplanation;
      manifests.push({ manifest: (await buildImageArtifacts({ source: 'sheep.jpg', bytes, image, explanation, model: loaded, backend: 'wasm', timings })).manifest, raw: explanation.maps[0]?.raw });
      loaded.runner.dispose();
    }
    const [a, same, other] = manifests as [(typeof manifests)[number], (typeof manifests)[number], (typeof manifests)[number]];
    assert.notEqual(name, a.manifest.model.name);
    assert.deepEqual([a.manifest.model.version, other.manifest.model.version], ['2.1.0', '2.1.0']);
    assert.equal(a.manifest.model.weightsSha256, modelWeightsSha256(artifacts));
    assert.equal(same.manifest.model.weightsSha256, a.manifest.model.weightsSha256);
    assert.equal(same.manifest.fingerprint, a.manifest.fingerprint);
    assert.deepEqual(same.raw, a.raw, 'the same weights, the same map');
    assert.notEqual(other.manifest.model.weightsSha256, a.manifest.model.weightsSha256);
    assert.notEqual(other.manifest.fingerprint, a.manifest.fingerprint);
    assert.notDeepEqual(other.raw, a.raw, 'other weights under the same version, another map');
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});

test('a manifest written before the weights were recorded (imaging recorded) keeps the fingerprint it was written with', () => {
  // explanation.json of sheep-pastoral.jpg, gradcam, engine 0.2.0, imaging 0.1.0 on sharp 0.35.5 /
  // libvips 8.18.7, as written before model.weightsSha256 existed.
  const preprocessing = { width: 224, height: 224, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  const old = {
    model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', format: 'layers', targetLayer: 'out_relu', targetShape: [7, 7, 1280], labels: [] },
    engine: { version: '0.2.0', tfjsVersion: '4.22.0', backend: 'wasm' },
    preprocessing,
    explanations: [],
    imaging: { version: '0.1.0', sharp: '0.35.5', libvips: '8.18.7', resizeKernel: 'linear', scaledDecodeKernel: 'lanczos3' },
  } as unknown as Parameters<typeof fingerprint>[0];
  assert.equal(fingerprint(old), '9f90083966845f6c8372e38599c484631c5fb694bdbcc4e60f59b984bc70f6f2');
});

test('the manifest records how its overlays were drawn, and each overlay is drawn again byte for byte from the manifest, its .npy and the image', async () => {
  const explanation = await explained(['gradcam', 'layercam'], 4);
  const defaults = await build(explanation);
  assert.deepEqual(explanationManifestSchema.parse(defaults.manifest).overlays, { colormap: 'turbo', alpha: 0.45, quality: 85, maxSide: 2048 });
  // Options that change every overlay's bytes, and a side that scales the 640 px photo down first.
  const chosen: OverlayOptions = { colormap: 'jet', alpha: 0.7, quality: 90 };
  const { files, manifest } = await buildImageArtifacts({ source: 'sheep.jpg', bytes, image, explanation, model, backend: 'wasm', timings, overlay: chosen, overlayMaxSide: 300 });
  assert.deepEqual(manifest.overlays, { ...chosen, maxSide: 300 });
  const { colormap, alpha, quality, maxSide } = manifest.overlays as NonNullable<typeof manifest.overlays>;
  const base = await overlayBase(image, maxSide);
  for (const entry of manifest.explanations) {
    const { data, shape } = decodeNpy((files.find((f) => f.path === entry.rawMap.path) as { body: Buffer }).body);
    const [height, width] = shape as [number, number];
    const range = entry.map.max - entry.map.min;
    const normalized = data.map((v) => (v - entry.map.min) / range);
    const again = await renderOverlay(base, normalized, width, height, manifest.preprocessing, { colormap: colormap as ColormapName, alpha, quality });
    assert.equal(createHash('sha256').update(again).digest('hex'), entry.overlay.sha256, entry.overlay.path);
  }
});

test('an input a browser would show otherwise (a TIFF) gets a preview the size of its overlays, listed in the manifest; a JPEG none', async () => {
  const explanation = await explained(['gradcam'], 4);
  const jpeg = await build(explanation);
  assert.equal(jpeg.manifest.input.preview, undefined);
  assert.ok(!jpeg.files.some((f) => f.path.includes('preview')));

  // The same photo as a TIFF: the same pixels, so the same explanation stands.
  const tiffBytes = await sharp(bytes).tiff().toBuffer();
  const tiff = await decodeImage(tiffBytes);
  const { files, manifest } = await buildImageArtifacts({ source: 'sheep.tiff', bytes: tiffBytes, image: tiff, explanation, model, backend: 'wasm', timings, overlayMaxSide: 300 });
  const preview = explanationManifestSchema.parse(manifest).input.preview;
  assert.ok(preview, 'a TIFF has a preview');
  assert.equal(preview.reason, 'format');
  const file = files.find((f) => f.path === preview.path);
  assert.ok(file, `${preview.path} is among the files`);
  assert.equal(preview.sha256, createHash('sha256').update(file.body).digest('hex'));
  assert.equal(preview.bytes, file.body.byteLength);
  const shown = await sharp(file.body).metadata();
  assert.equal(shown.format, 'jpeg');
  const overlay = manifest.explanations[0]?.overlay;
  assert.deepEqual([shown.width, shown.height], [overlay?.width, overlay?.height], 'the preview and the overlays line up');
  assert.deepEqual([preview.width, preview.height], [shown.width, shown.height]);
  assert.equal(Math.max(preview.width, preview.height), 300, 'drawn at the overlay limit');
  assert.equal(files.at(-1)?.path, 'explanation.json', 'the manifest is still written last');
  // Drawn from the input, like the overlays: the maps, and so the fingerprint, are the JPEG's.
  assert.equal(manifest.fingerprint, jpeg.manifest.fingerprint);
});
