import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const imagesDir = fileURLToPath(new URL('../fixtures/images/', import.meta.url));

/** The real sample photos and drawings (not the pixel bomb), as bytes. */
export const samplePhotos: readonly { name: string; bytes: Buffer }[] = readdirSync(imagesDir)
  .filter((name) => name.endsWith('.jpg'))
  .sort()
  .map((name) => ({ name, bytes: readFileSync(`${imagesDir}${name}`) }));

export function inlineRecord(id: string, photo: { bytes: Buffer }) {
  return { id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.bytes.toString('base64') } };
}

export function referenceRecord(id: string, uri: string) {
  return { id, model: { name: 'nsfw-mobilenet-v2' }, image: { uri } };
}
