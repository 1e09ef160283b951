import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const fixturesDir = fileURLToPath(new URL('../../../../test/fixtures/images/', import.meta.url));

/**
 * A fixture photo as a model input (stretched, pixels / 255). Done with sharp directly so engine
 * tests do not depend on packages/imaging.
 */
export async function fixtureInput(file: string, size: number): Promise<Float32Array> {
  const { data } = await sharp(fixturesDir + file).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
  return Float32Array.from(data, (v) => v / 255);
}
