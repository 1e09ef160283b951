import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { decodeImage } from './decode-image.ts';
import { imagingInfo } from './imaging-info.ts';
import { toModelInput } from './model-input.ts';
import { readFixture } from './testing/test-images.ts';

/**
 * Manifests record @gradcam/imaging's version (imagingInfo) and their fingerprints cover it, on
 * the promise that the same bytes give the same model input under one version. This holds that
 * promise: the sha256 of the model input's float32 bytes for the sample images (test/fixtures,
 * the demo's), recorded per imaging version. sharp and libvips (their decoders, their resamplers)
 * make the input too, so each record is also keyed by them, and by the CPU architecture (byte
 * order, other code paths); on a combination not recorded the test is skipped, never failed, and
 * prints this machine's hashes to record. Vector extensions do not matter: with libvips' SIMD off
 * (sharp.simd(false)) and libjpeg's (JSIMD_FORCENONE=1) the x64 hashes below were the same.
 */
interface GoldenRecord {
  readonly imaging: string;
  readonly sharp: string;
  readonly libvips: string;
  readonly arch: string;
  readonly hashes: Readonly<Record<string, string>>;
}

const recorded: readonly GoldenRecord[] = [
  {
    imaging: '0.1.1',
    sharp: '0.35.5',
    libvips: '8.18.7',
    arch: 'x64',
    hashes: {
      'sheep-pastoral.jpg mobilenet': '878b76dc17145cc0288e7466288060fc7117aea69e97d3d347d1b49b62428592',
      'house-cat-locomotion.jpg mobilenet': '5a34020b3766c31c9052533a49cc879e7a536bfbdfae33933b7704817afe4cbf',
      'cartoon-open-peeps.jpg mobilenet': '8822fa5909b97693accb3a7d6c275fafd9ecd07f87e844dd5c7e15319a566f71',
      'people-group.jpg mobilenet': '4cb9fc3c496e6d9256868c4f9c8bbdf85ef42368ed7e5dc20d5246986684acf0',
      'sheep-pastoral.jpg cover-299-bgr-caffe': '361782e8cb4495e845f6123b917daa4728c443b649865d68b5cfad1c4e6417c7',
      'house-cat-locomotion.jpg contain-imagenet': '29b7b9fe83a85ff3ab1a92e4e987cec0faf8676d82bc06b51342686defb0c509',
      'people-group.jpg decoded-320 mobilenet': 'b1ea04e776110c59808f86f5da178c7abe55335706d596f25f19ec97fb1520fa',
    },
  },
];

const mobileNet: PreprocessingSpec = { width: 224, height: 224, fit: 'fill', channelOrder: 'rgb', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
const caffe: PreprocessingSpec = { width: 299, height: 299, fit: 'cover', channelOrder: 'bgr', scale: 1, mean: [103.939, 116.779, 123.68], std: [1, 1, 1] };
const imagenet: PreprocessingSpec = { width: 224, height: 224, fit: 'contain', channelOrder: 'rgb', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/** Each case: a sample image, the decode side (0: full; 320: JPEG shrink-on-load + Lanczos-3), a spec. */
const cases: readonly (readonly [name: string, file: string, maxSide: number, spec: PreprocessingSpec])[] = [
  ['sheep-pastoral.jpg mobilenet', 'sheep-pastoral.jpg', 0, mobileNet],
  ['house-cat-locomotion.jpg mobilenet', 'house-cat-locomotion.jpg', 0, mobileNet],
  ['cartoon-open-peeps.jpg mobilenet', 'cartoon-open-peeps.jpg', 0, mobileNet],
  ['people-group.jpg mobilenet', 'people-group.jpg', 0, mobileNet],
  ['sheep-pastoral.jpg cover-299-bgr-caffe', 'sheep-pastoral.jpg', 0, caffe],
  ['house-cat-locomotion.jpg contain-imagenet', 'house-cat-locomotion.jpg', 0, imagenet],
  ['people-group.jpg decoded-320 mobilenet', 'people-group.jpg', 320, mobileNet],
];

async function modelInputHashes(): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const [name, file, maxSide, spec] of cases) {
    const input = await toModelInput(await decodeImage(readFixture(file), undefined, undefined, { maxSide }), spec);
    hashes[name] = createHash('sha256').update(new Uint8Array(input.buffer, input.byteOffset, input.byteLength)).digest('hex');
  }
  return hashes;
}

test("the sample images' model inputs are the ones recorded under this @gradcam/imaging version (on a sharp/libvips recorded)", async (t) => {
  const got = await modelInputHashes();
  const { version, sharp, libvips } = imagingInfo;
  const here = recorded.filter((r) => r.sharp === sharp && r.libvips === libvips && r.arch === process.arch);
  if (here.length === 0) {
    t.diagnostic(`this machine's hashes: ${JSON.stringify({ imaging: version, sharp, libvips, arch: process.arch, hashes: got })}`);
    const known = recorded.map((r) => `sharp ${r.sharp} / libvips ${r.libvips} on ${r.arch}`).join(', ');
    t.skip(`no model-input hashes recorded for sharp ${sharp} / libvips ${libvips} on ${process.arch} (recorded: ${known}); another libvips may resample differently, so this is not a failure. Add the diagnostic's record to imaging-golden.test.ts`);
    return;
  }
  const record = here.find((r) => r.imaging === version);
  assert.ok(
    record,
    `@gradcam/imaging is ${version} but the hashes for this sharp/libvips were recorded under ${here.map((r) => r.imaging).join(', ')}: record them under ${version}: ${JSON.stringify(got)}`,
  );
  const changed = cases.map(([name]) => name).filter((name) => got[name] !== record.hashes[name]);
  assert.deepEqual(
    changed,
    [],
    `imaging output changed: bump @gradcam/imaging's version and update these hashes (sharp ${sharp}, libvips ${libvips}, ${process.arch}): ${JSON.stringify(Object.fromEntries(changed.map((name) => [name, got[name]])))}`,
  );
});
