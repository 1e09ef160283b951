import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { before, test } from 'node:test';
import { explanationManifestSchema } from '@gradcam/contracts';
import { Explainer, type ImageExplanation, type LoadedModel, type MethodName, loadModel, selectBackend } from '@gradcam/engine';
import { type DecodedImage, decodeImage, toModelInput } from '@gradcam/imaging';
import { buildImageArtifacts } from './build-artifacts.ts';

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
