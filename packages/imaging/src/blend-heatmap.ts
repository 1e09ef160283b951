import type { DecodedImage } from './decode-image.ts';
import { computeFitGeometry } from './fit-geometry.ts';
import type { FitSpec } from './fit-geometry.ts';
import { computeAxisTaps, resampleMapRows } from './upsample-bilinear.ts';
import type { AxisTaps } from './upsample-bilinear.ts';

/** One image axis projected into map coordinates, for the pixels the model actually saw. */
interface AxisProjection {
  /** Visible pixels are [first, end): the projection is monotonic, so they form one run. */
  first: number;
  end: number;
  /** Taps of the visible pixels only (index 0 is pixel `first`). */
  taps: AxisTaps;
}

function projectAxis(sourceSize: number, resizedSize: number, offset: number, canvasSize: number, mapSize: number): AxisProjection {
  // Source pixel centre x lands on the canvas at u = (x + 0.5)·k + offset (k = resized/source),
  // which is map coordinate u·mapSize/canvas − 0.5 in pixel-centre units.
  const k = resizedSize / sourceSize;
  const toMap = mapSize / canvasSize;
  const seen = (x: number) => {
    const u = (x + 0.5) * k + offset;
    return u >= 0 && u < canvasSize;
  };
  let first = 0;
  while (first < sourceSize && !seen(first)) first++;
  let end = first;
  while (end < sourceSize && seen(end)) end++;
  // Computed for the whole axis, then cut, so each tap is bit-for-bit what it always was.
  const { lower, upper, weight } = computeAxisTaps(sourceSize, mapSize, k * toMap, (0.5 * k + offset) * toMap - 0.5);
  return { first, end, taps: { lower: lower.subarray(first, end), upper: upper.subarray(first, end), weight: weight.subarray(first, end) } };
}

/**
 * Colours `map` (mapWidth × mapHeight, in model-input coordinates, projected through `spec`'s
 * geometry) through `lut` and blends it `alpha` opaque over the pixels of `image` the model saw;
 * the rest is copied unchanged. Returns a new RGB buffer the size of the image.
 *
 * Per pixel: value = bilinear sample of the clamped map, rounded to float32 (as
 * upsampleBilinear stores it); colour = lut[round(value·255)];
 * out = (pixel·(256 − a) + colour·a + 128) >> 8 with a = round(alpha·256).
 */
export function blendHeatmap(
  image: DecodedImage,
  map: Float32Array,
  mapWidth: number,
  mapHeight: number,
  spec: FitSpec,
  lut: Uint8Array,
  alpha: number,
): Buffer {
  const { width, height } = image;
  const g = computeFitGeometry(width, height, spec);
  const xs = projectAxis(width, g.resizedWidth, g.offsetX, g.canvasWidth, mapWidth);
  const ys = projectAxis(height, g.resizedHeight, g.offsetY, g.canvasHeight, mapHeight);
  // Clamp first: interpolating a NaN would spread it to every neighbouring pixel. Interpolated
  // values then stay within 0…1 (give or take an ulp), so the per-pixel loop needs no clamp.
  const clean = map.map((v) => (v > 0 ? (v < 1 ? v : 1) : 0));
  const horizontal = resampleMapRows(clean, mapWidth, mapHeight, xs.taps);

  const a = Math.round(alpha * 256);
  const keep = 256 - a;
  // colour·a + 128 per channel and entry, so a pixel costs one multiply-add and a shift per channel.
  const tintR = new Uint16Array(256);
  const tintG = new Uint16Array(256);
  const tintB = new Uint16Array(256);
  for (let e = 0; e < 256; e++) {
    tintR[e] = lut[e * 3]! * a + 128;
    tintG[e] = lut[e * 3 + 1]! * a + 128;
    tintB[e] = lut[e * 3 + 2]! * a + 128;
  }
  const tintRB = new Uint32Array(256);
  for (let e = 0; e < 256; e++) tintRB[e] = tintR[e]! | (tintB[e]! << 16);

  // Plain Uint8Array views (not Buffer) keep the hot loops' element accesses monomorphic.
  const src = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.length);
  const result = Buffer.allocUnsafe(src.length);
  const out = new Uint8Array(result.buffer, result.byteOffset, result.length);
  const span = xs.end - xs.first;
  // Whatever the model never saw (cover crops it away) stays as it was.
  if (span < width || ys.end - ys.first < height) out.set(src);

  const words = littleEndian && src.byteOffset % 4 === 0 && out.byteOffset % 4 === 0;
  const src32 = words ? new Uint32Array(src.buffer, src.byteOffset, src.length >> 2) : undefined;
  const out32 = words ? new Uint32Array(out.buffer, out.byteOffset, out.length >> 2) : undefined;
  const entries = new Uint8Array(span);
  const { lower, upper, weight } = ys.taps;
  for (let y = ys.first; y < ys.end; y++) {
    const r = y - ys.first;
    const top = lower[r]! * span;
    const bottom = upper[r]! * span;
    const wy = weight[r]!;
    for (let i = 0; i < span; i++) {
      const t = horizontal[top + i]!;
      // fround: the value upsampleBilinear would store, so the colour index is the same.
      entries[i] = (Math.fround(t + (horizontal[bottom + i]! - t) * wy) * 255 + 0.5) | 0;
    }
    let i = 0;
    let q = y * width + xs.first;
    if (src32 !== undefined && out32 !== undefined) {
      // Single pixels up to a 4-pixel (12-byte, 3-word) boundary, then 4 pixels per step.
      for (; i < span && (q & 3) !== 0; i++, q++) blendPixel(src, out, q * 3, entries[i]!, keep, tintR, tintG, tintB);
      for (; i + 4 <= span; i += 4, q += 4) {
        blendFourPixels(src32, out32, (q >> 2) * 3, entries[i]!, entries[i + 1]!, entries[i + 2]!, entries[i + 3]!, keep, tintR, tintG, tintB, tintRB);
      }
    }
    for (; i < span; i++, q++) blendPixel(src, out, q * 3, entries[i]!, keep, tintR, tintG, tintB);
  }
  return result;
}

const littleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

function blendPixel(src: Uint8Array, out: Uint8Array, p: number, e: number, keep: number, tintR: Uint16Array, tintG: Uint16Array, tintB: Uint16Array): void {
  out[p] = (src[p]! * keep + tintR[e]!) >> 8;
  out[p + 1] = (src[p + 1]! * keep + tintG[e]!) >> 8;
  out[p + 2] = (src[p + 2]! * keep + tintB[e]!) >> 8;
}

const EVEN_BYTES = 0x00ff00ff;
const ODD_BYTES = 0xff00ff00 | 0;

/**
 * blendPixel for four pixels at once, two channels per 32-bit multiply: each byte gets a 16-bit
 * lane, and pixel·keep + tint ≤ 255·256 + 128 never carries into the next lane, so every byte
 * comes out exactly as blendPixel makes it. About twice as fast in V8 as byte by byte, because
 * each word is read and written once instead of four times.
 *
 * Four RGB pixels are three little-endian words: [R0 G0 B0 R1] [G1 B1 R2 G2] [B2 R3 G3 B3]
 * (lowest byte first); even bytes are masked in place, odd ones shifted down 8 and back.
 */
function blendFourPixels(
  src: Uint32Array,
  out: Uint32Array,
  w: number,
  e0: number,
  e1: number,
  e2: number,
  e3: number,
  keep: number,
  tintR: Uint16Array,
  tintG: Uint16Array,
  tintB: Uint16Array,
  tintRB: Uint32Array,
): void {
  const s0 = src[w]!;
  const s1 = src[w + 1]!;
  const s2 = src[w + 2]!;
  out[w] = blendWord(s0, keep, tintRB[e0]!, tintG[e0]! | (tintR[e1]! << 16));
  out[w + 1] = blendWord(s1, keep, tintG[e1]! | (tintR[e2]! << 16), tintB[e1]! | (tintG[e2]! << 16));
  out[w + 2] = blendWord(s2, keep, tintB[e2]! | (tintG[e3]! << 16), tintRB[e3]!);
}

function blendWord(s: number, keep: number, evenTint: number, oddTint: number): number {
  const even = ((Math.imul(s & EVEN_BYTES, keep) + evenTint) >>> 8) & EVEN_BYTES;
  const odd = (Math.imul((s >>> 8) & EVEN_BYTES, keep) + oddTint) & ODD_BYTES;
  return even | odd;
}
