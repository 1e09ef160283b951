import type { ReviewInput, ReviewMap } from '../review-input.ts';

/** A 0…1 Gaussian blob centred on (cx, cy), the shape of a typical Grad-CAM map. */
export function blobMap(width: number, height: number, cx: number, cy: number, sigma: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma * sigma));
  }
  return out;
}

/** A map with the given statistics; a centred 7×7 blob unless `normalized` is given. */
export function reviewMap(fields: Partial<ReviewMap> & Pick<ReviewMap, 'classIndex'>): ReviewMap {
  const width = fields.width ?? 7;
  const height = fields.height ?? 7;
  return {
    method: 'gradcam',
    width,
    height,
    normalized: blobMap(width, height, (width - 1) / 2, (height - 1) / 2, 1.2),
    borderMass: 0.2,
    entropy: 0.6,
    ...fields,
  };
}

/** A confident prediction of class 0 without maps, unless told otherwise. */
export function reviewInput(fields: Partial<ReviewInput> = {}): ReviewInput {
  return { id: 'req-1', model: 'm', predictedClass: 0, probabilities: [0.97, 0.01, 0.01, 0.005, 0.005], maps: [], now: 1_700_000_000_000, ...fields };
}
