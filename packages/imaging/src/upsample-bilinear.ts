/**
 * Bilinear resampling of small float maps (Grad-CAM maps are 7×7 … 28×28) to image size.
 * Plain JS: for maps this small it beats a round trip through sharp, and it keeps float
 * precision where sharp would quantise.
 *
 * Convention: pixel centres sit at half-integers (align_corners=false), as in PyTorch
 * `F.interpolate(..., align_corners=False)` and TF `resize(half_pixel_centers=True)`; samples
 * beyond the outermost centres take the edge value.
 */

/**
 * For each output index along one axis: the two map indices to blend and the weight of the
 * second. Precomputed once per axis so the per-pixel work is two lookups and a lerp.
 */
export interface AxisTaps {
  lower: Int32Array;
  upper: Int32Array;
  weight: Float32Array;
}

/**
 * Taps for map coordinate = outIndex × scale + offset (both in map pixel-centre units).
 */
export function computeAxisTaps(outSize: number, mapSize: number, scale: number, offset: number): AxisTaps {
  const lower = new Int32Array(outSize);
  const upper = new Int32Array(outSize);
  const weight = new Float32Array(outSize);
  const last = mapSize - 1;
  for (let i = 0; i < outSize; i++) {
    const source = Math.min(Math.max(i * scale + offset, 0), last);
    const low = Math.floor(source);
    lower[i] = low;
    upper[i] = Math.min(low + 1, last);
    weight[i] = source - low;
  }
  return { lower, upper, weight };
}

/** Taps that stretch `mapSize` cells over `outSize` pixels with half-pixel centres. */
export function stretchTaps(outSize: number, mapSize: number): AxisTaps {
  const scale = mapSize / outSize;
  return computeAxisTaps(outSize, mapSize, scale, 0.5 * scale - 0.5);
}

/**
 * The horizontal half of the bilinear resampling: every map row resampled through `xTaps`, as
 * mapHeight rows of xTaps.lower.length floats. An output row is then a lerp of two of these.
 */
export function resampleMapRows(map: Float32Array, mapWidth: number, mapHeight: number, xTaps: AxisTaps): Float32Array {
  assertMap(map, mapWidth, mapHeight);
  const outWidth = xTaps.lower.length;
  const horizontal = new Float32Array(mapHeight * outWidth);
  const { lower: x0, upper: x1, weight: wx } = xTaps;
  for (let j = 0; j < mapHeight; j++) {
    const mapRow = j * mapWidth;
    const outRow = j * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const a = map[mapRow + x0[x]!]!;
      const b = map[mapRow + x1[x]!]!;
      horizontal[outRow + x] = a + (b - a) * wx[x]!;
    }
  }
  return horizontal;
}

/** Upsamples (or downsamples) a row-major mapWidth × mapHeight map to outWidth × outHeight. */
export function upsampleBilinear(
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  outWidth: number,
  outHeight: number,
): Float32Array {
  assertPositiveSize(outWidth, outHeight, 'output');
  const horizontal = resampleMapRows(map, mapWidth, mapHeight, stretchTaps(outWidth, mapWidth));
  const { lower, upper, weight } = stretchTaps(outHeight, mapHeight);
  const out = new Float32Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const top = lower[y]! * outWidth;
    const bottom = upper[y]! * outWidth;
    const wy = weight[y]!;
    for (let x = 0, o = y * outWidth; x < outWidth; x++, o++) {
      const a = horizontal[top + x]!;
      out[o] = a + (horizontal[bottom + x]! - a) * wy;
    }
  }
  return out;
}

/** A row-major mapWidth × mapHeight Float32Array, or a RangeError saying what is wrong. */
export function assertMap(map: Float32Array, mapWidth: number, mapHeight: number): void {
  assertPositiveSize(mapWidth, mapHeight, 'map');
  if (!((map as unknown) instanceof Float32Array)) {
    throw new RangeError(`map must be a Float32Array, got ${map === null ? 'null' : typeof map}`);
  }
  if (map.length !== mapWidth * mapHeight) {
    throw new RangeError(`map has ${map.length} values, expected ${mapWidth}×${mapHeight} = ${mapWidth * mapHeight}`);
  }
}

function assertPositiveSize(width: number, height: number, what: string): void {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`${what} size must be positive integers, got ${width}×${height}`);
  }
}
