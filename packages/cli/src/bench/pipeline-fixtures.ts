import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureImagesDir, fixturePhotos } from './fixture-batch.ts';

/** With the embedded filesystem store, `s3://local/<key>` names `<GRADCAM_STORAGE_DIR>/<key>`. */
const localBucket = 'local';
const inputsFolder = 'bench-inputs';

export interface FixtureImages {
  /** `s3://local/bench-inputs/<photo>` for each photo copied into the store. */
  readonly uris: readonly string[];
  /** Each photo's bytes as base64, for inline records. */
  readonly base64: readonly string[];
}

/**
 * Copies the fixture photos into a filesystem store so records can name them by reference, and
 * reads them once as base64 for inline records (encoded once, not per record: the benchmark
 * measures the pipeline, not its own encoding).
 */
export async function storeFixtureImages(storageDir: string): Promise<FixtureImages> {
  const photos = await fixturePhotos();
  await mkdir(join(storageDir, inputsFolder), { recursive: true });
  await Promise.all(photos.map((photo) => copyFile(join(fixtureImagesDir, photo), join(storageDir, inputsFolder, photo))));
  return {
    uris: photos.map((photo) => `s3://${localBucket}/${inputsFolder}/${photo}`),
    base64: await Promise.all(photos.map(async (photo) => (await readFile(join(fixtureImagesDir, photo))).toString('base64'))),
  };
}

export interface BenchRecord {
  readonly id: string;
  readonly model: { readonly name: string };
  readonly image: { readonly uri: string } | { readonly base64: string };
}

/** Record `index`, cycling through the photos; `inline` chooses base64 over a reference. */
export function benchRecord(images: FixtureImages, model: string, id: string, index: number, inline: boolean): BenchRecord {
  const pick = <T>(list: readonly T[]): T => list[index % list.length] as T;
  return { id, model: { name: model }, image: inline ? { base64: pick(images.base64) } : { uri: pick(images.uris) } };
}
