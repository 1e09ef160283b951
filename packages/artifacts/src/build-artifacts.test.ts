import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { before, test } from 'node:test';
import { explanationManifestSchema } from '@gradcam/contracts';
import { Explainer, type ImageExplanation, type LoadedModel, type MethodName, loadModel, selectBackend } from '@gradcam/engine';
import { type ColormapName, type DecodedImage, type OverlayOptions, decodeImage, decodeNpy, imagingInfo, overlayBase, renderOverlay, toModelInput } from '@gradcam/imaging';
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
