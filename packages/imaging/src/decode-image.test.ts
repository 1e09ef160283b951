import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { decodeImage, decodedPixels, decodeSideFor, readImageHeader } from './decode-image.ts';
import type { DecodedImage } from './decode-image.ts';
import { defaultImageLimits } from './image-limits.ts';
import { ImagingError } from './imaging-error.ts';
import type { ImagingErrorCode } from './imaging-error.ts';
import {
  jpegWithOrientation6,
  pixelAt,
  pngWithAlpha,
  rawInput,
  readFixture,
  samplePhotoNames,
  twoFrameGif,
  twoToneRaw,
} from './testing/test-images.ts';

async function rejectsWith(bytes: Uint8Array, code: ImagingErrorCode, limits = defaultImageLimits): Promise<ImagingError> {
  let caught: unknown;
  try {
    await decodeImage(bytes, limits);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ImagingError, `expected ImagingError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.doesNotMatch(caught.message, /vips|sharp/i, 'library internals must not leak into the message');
  assert.doesNotMatch(caught.message, /\n/, 'one line');
  return caught;
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  for (let c = 0; c < expected.length; c++) {
    assert.ok(Math.abs(actual[c]! - expected[c]!) <= tolerance, `${what}: got [${actual.join(', ')}], expected ≈[${expected.join(', ')}]`);
  }
}

function assertRgb(image: DecodedImage): void {
  assert.equal(image.data.length, image.width * image.height * 3);
}

test('decodes every committed sample photo and drawing to upright RGB at its own size', async () => {
  const names = samplePhotoNames();
  assert.ok(names.length >= 6, `expected the sample images, found ${names.join(', ')}`);
  for (const name of names) {
    const bytes = readFixture(name);
    const metadata = await sharp(bytes).metadata();
    const image = await decodeImage(bytes);
    assert.equal(image.format, 'jpeg', name);
    assert.equal(image.width, metadata.width, name);
    assert.equal(image.height, metadata.height, name);
    assertRgb(image);
  }
});

test('readImageHeader says how many pixels decoding will make, and decodeImage reuses it', async () => {
  for (const name of samplePhotoNames()) {
    const bytes = readFixture(name);
    const header = await readImageHeader(bytes);
    const image = await decodeImage(bytes, defaultImageLimits, header);
    assert.equal(header.pixels, image.width * image.height, name);
    assert.deepEqual(image, await decodeImage(bytes), `${name}: same pixels with or without the header`);
  }
  assert.equal((await readImageHeader(await twoFrameGif(16, 12))).pixels, 16 * 12, 'an animation: its first frame only');
});

test('readImageHeader refuses what decodeImage refuses, before decoding', async () => {
  const bomb = readFixture('pixel-bomb-20000x20000.png');
  await assert.rejects(readImageHeader(bomb), (error: unknown) => error instanceof ImagingError && error.code === 'IMAGE_TOO_MANY_PIXELS');
  await assert.rejects(readImageHeader(Buffer.from('not an image')), (error: unknown) => error instanceof ImagingError && error.code === 'IMAGE_UNSUPPORTED_FORMAT');
  await assert.rejects(readImageHeader(new Uint8Array(0)), (error: unknown) => error instanceof ImagingError && error.code === 'IMAGE_EMPTY');
});

test('applies EXIF orientation 6: width and height come out swapped, pixels rotated clockwise', async () => {
  const bytes = await jpegWithOrientation6();
  const stored = await sharp(bytes).metadata();
  assert.deepEqual([stored.width, stored.height, stored.orientation], [60, 40, 6]);

  const image = await decodeImage(bytes);
  assert.deepEqual([image.width, image.height], [40, 60]);
  assertClose(pixelAt(image, 35, 4), [255, 0, 0], 40, 'top-right corner holds the red block');
  assertClose(pixelAt(image, 4, 4), [255, 255, 255], 40, 'top-left corner is white');
});

test('EXIF orientation in a PNG (eXIf before the pixels) is applied, as browsers do', async () => {
  const red = await sharp(await jpegWithOrientation6()).png().withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(red).metadata()).orientation, 6);
  const image = await decodeImage(red);
  assert.deepEqual([image.width, image.height], [40, 60]);
  assertClose(pixelAt(image, 35, 4), [255, 0, 0], 40, 'top-right corner holds the red block');
});

test('EXIF orientation in a WebP is ignored, as browsers do (its EXIF chunk follows the pixels): stored size and pixels', async () => {
  // css-images-3 applies orientation metadata only when it precedes the image data; WebP's EXIF
  // chunk comes after it, so Chromium and Firefox show a WebP as stored, and so does the review page.
  const bytes = await sharp(await jpegWithOrientation6()).webp({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const stored = await sharp(bytes).metadata();
  assert.deepEqual([stored.format, stored.width, stored.height, stored.orientation], ['webp', 60, 40, 6]);
  for (const maxSide of [0, 30]) {
    const image = await decodeImage(bytes, defaultImageLimits, undefined, { maxSide });
    const scale = maxSide === 0 ? 1 : 0.5;
    assert.deepEqual([image.width, image.height], [60 * scale, 40 * scale], `maxSide ${maxSide}`);
    if (maxSide !== 0) assert.deepEqual(image.fullSize, { width: 60, height: 40 });
    assertClose(pixelAt(image, 4 * scale, 4 * scale), [255, 0, 0], 60, `maxSide ${maxSide}: top-left corner holds the red block, as stored`);
  }
});

test('flattens transparency onto white', async () => {
  const image = await decodeImage(await pngWithAlpha());
  assert.equal(image.format, 'png');
  assertRgb(image);
  assert.deepEqual(pixelAt(image, 4, 4), [255, 0, 0], 'opaque red stays red');
  assert.deepEqual(pixelAt(image, 28, 4), [255, 255, 255], 'fully transparent becomes white');
  assertClose(pixelAt(image, 4, 28), [127, 127, 127], 1, 'half-transparent black becomes mid grey');
});

test('expands greyscale to three equal channels', async () => {
  const bytes = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 90, g: 90, b: 90 } } })
    .toColourspace('b-w')
    .png()
    .toBuffer();
  assert.equal((await sharp(bytes).metadata()).channels, 1);
  const image = await decodeImage(bytes);
  assertRgb(image);
  assert.deepEqual(pixelAt(image, 5, 5), [90, 90, 90]);
});

test('reduces 16-bit PNG to 8 bits', async () => {
  const source = twoToneRaw();
  const bytes = await sharp(source.data, rawInput(source)).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(bytes).metadata()).depth, 'ushort');
  const image = await decodeImage(bytes);
  assertRgb(image);
  assert.deepEqual(pixelAt(image, 2, 2), [255, 0, 0]);
  assert.deepEqual(pixelAt(image, 60, 2), [0, 0, 255]);
});

test('converts CMYK JPEG to RGB', async () => {
  const source = twoToneRaw();
  const bytes = await sharp(source.data, rawInput(source)).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(bytes).metadata()).space, 'cmyk');
  const image = await decodeImage(bytes);
  assertRgb(image);
  const [r, g, b] = pixelAt(image, 4, 24);
  assert.ok(r > 180 && g < 90 && b < 90, `left half should be red-ish, got ${r},${g},${b}`);
});

test('takes the first frame of an animated GIF', async () => {
  const bytes = await twoFrameGif(16, 12);
  assert.equal((await sharp(bytes).metadata()).pages, 2);
  const image = await decodeImage(bytes);
  assert.equal(image.format, 'gif');
  assert.deepEqual([image.width, image.height], [16, 12]);
  assert.deepEqual(pixelAt(image, 8, 6), [255, 0, 0], 'first frame is red');
});

test('decodes WebP, TIFF and AVIF', async () => {
  const source = twoToneRaw();
  const encoders = {
    webp: (s: Sharp) => s.webp({ lossless: true }),
    tiff: (s: Sharp) => s.tiff(),
    avif: (s: Sharp) => s.avif({ quality: 90 }),
  } as const;
  for (const [format, encode] of Object.entries(encoders)) {
    const bytes = await encode(sharp(source.data, rawInput(source))).toBuffer();
    const image = await decodeImage(bytes);
    assert.equal(image.format, format);
    assert.deepEqual([image.width, image.height], [64, 48], format);
    assertClose(pixelAt(image, 8, 24), [255, 0, 0], 24, `${format} left half`);
    assertClose(pixelAt(image, 56, 24), [0, 0, 255], 24, `${format} right half`);
  }
});

/** A baseline little-endian TIFF, uncompressed RGB with 32-bit float samples (sharp only writes 8-bit TIFF). */
function floatTiff(width: number, height: number, value: (x: number, y: number, c: number) => number): Buffer {
  const tags: [number, number, number, number][] = []; // tag, type (3 SHORT, 4 LONG), count, value or offset
  const pixels = Buffer.alloc(width * height * 3 * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) pixels.writeFloatLE(value(x, y, c), ((y * width + x) * 3 + c) * 4);
  const entries = 11;
  const ifdSize = 2 + entries * 12 + 4;
  const extraOffset = 8 + ifdSize; // BitsPerSample (3 SHORT) then SampleFormat (3 SHORT)
  const pixelOffset = extraOffset + 12;
  tags.push([256, 4, 1, width], [257, 4, 1, height], [258, 3, 3, extraOffset], [259, 3, 1, 1], [262, 3, 1, 2], [273, 4, 1, pixelOffset]);
  tags.push([277, 3, 1, 3], [278, 4, 1, height], [279, 4, 1, pixels.length], [284, 3, 1, 1], [339, 3, 3, extraOffset + 6]);
  const head = Buffer.alloc(pixelOffset);
  head.write('II', 0, 'latin1');
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(8, 4);
  head.writeUInt16LE(entries, 8);
  tags.forEach(([tag, type, count, v], i) => {
    const at = 10 + i * 12;
    head.writeUInt16LE(tag, at);
    head.writeUInt16LE(type, at + 2);
    head.writeUInt32LE(count, at + 4);
    if (type === 3 && count === 1) head.writeUInt16LE(v, at + 8);
    else head.writeUInt32LE(v, at + 8);
  });
  for (let c = 0; c < 3; c++) {
    head.writeUInt16LE(32, extraOffset + c * 2); // bits per sample
    head.writeUInt16LE(3, extraOffset + 6 + c * 2); // IEEE float
  }
  return Buffer.concat([head, pixels]);
}

test('a 32-bit float TIFF is refused (IMAGE_UNSUPPORTED_FORMAT), not decoded to black', async () => {
  const bytes = floatTiff(16, 12, (x, y, c) => (c === 0 ? x / 15 : c === 1 ? y / 11 : 0.5));
  const metadata = await sharp(bytes).metadata();
  assert.deepEqual([metadata.format, metadata.depth, metadata.width, metadata.height], ['tiff', 'float', 16, 12], 'the test image is a float TIFF');
  const error = await rejectsWith(bytes, 'IMAGE_UNSUPPORTED_FORMAT');
  assert.match(error.message, /float samples/);
  await assert.rejects(readImageHeader(bytes), (e: unknown) => e instanceof ImagingError && e.code === 'IMAGE_UNSUPPORTED_FORMAT');
});

test('zero bytes → IMAGE_EMPTY', async () => {
  await rejectsWith(new Uint8Array(0), 'IMAGE_EMPTY');
});

test('text → IMAGE_UNSUPPORTED_FORMAT', async () => {
  await rejectsWith(Buffer.from('label,score\ncat,0.9\n'), 'IMAGE_UNSUPPORTED_FORMAT');
});

test('SVG is refused although sharp could render it', async () => {
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="red"/></svg>');
  assert.equal((await sharp(svg).metadata()).format, 'svg');
  const error = await rejectsWith(svg, 'IMAGE_UNSUPPORTED_FORMAT');
  assert.match(error.message, /svg/);
});

test('truncated JPEG → IMAGE_CORRUPT (sharp alone would decode it silently)', async () => {
  const bytes = readFixture('people-group.jpg');
  const truncated = bytes.subarray(0, Math.floor(bytes.length * 0.6));
  // The premise: with failOn 'none' libvips returns an image with a grey bottom, no error.
  const lenient = await sharp(truncated, { failOn: 'none' }).raw().toBuffer({ resolveWithObject: true });
  assert.equal(lenient.info.width, 640);

  const error = await rejectsWith(truncated, 'IMAGE_CORRUPT');
  assert.match(error.message, /JPEG/);
  assert.ok(error.cause instanceof Error, 'the sharp error is kept as cause for logs');
});

test('truncated PNG → IMAGE_CORRUPT', async () => {
  const bytes = await sharp(readFixture('nagasaki-boats.jpg')).png().toBuffer();
  await rejectsWith(bytes.subarray(0, bytes.length >> 1), 'IMAGE_CORRUPT');
});

test('truncated TIFF → IMAGE_CORRUPT naming TIFF, not "not a recognised image" (libvips cannot sniff it)', async () => {
  const bytes = await sharp(readFixture('sheep-pastoral.jpg')).tiff().toBuffer();
  for (const fraction of [0.3, 0.9]) {
    const truncated = bytes.subarray(0, Math.floor(bytes.length * fraction));
    const error = await rejectsWith(truncated, 'IMAGE_CORRUPT');
    assert.match(error.message, /^TIFF image is truncated or damaged/, `${fraction}: ${error.message}`);
    await assert.rejects(readImageHeader(truncated), (e: unknown) => e instanceof ImagingError && e.code === 'IMAGE_CORRUPT');
  }
});

test('the first bytes of any accepted format alone are IMAGE_CORRUPT; of another format, IMAGE_UNSUPPORTED_FORMAT', async () => {
  const photo = await sharp(readFixture('sheep-pastoral.jpg')).resize(64).toBuffer();
  const files: [string, Buffer][] = [
    ['JPEG', photo],
    ['PNG', await sharp(photo).png().toBuffer()],
    ['GIF', await sharp(photo).gif().toBuffer()],
    ['WebP', await sharp(photo).webp().toBuffer()],
    ['TIFF', await sharp(photo).tiff().toBuffer()],
    ['AVIF', await sharp(photo).avif().toBuffer()],
  ];
  for (const [name, bytes] of files) {
    for (const length of [12, 40]) {
      const error = await rejectsWith(bytes.subarray(0, length), 'IMAGE_CORRUPT');
      assert.match(error.message, new RegExp(`^${name} image`), `${name}, first ${length} bytes: ${error.message}`);
    }
  }
  // An MP4's ftyp box has the ISO-BMFF layout of AVIF and HEIF, but none of their brands.
  const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom\0\0\x02\0isomiso2', 'latin1'), Buffer.alloc(40)]);
  await rejectsWith(mp4, 'IMAGE_UNSUPPORTED_FORMAT');
});

test('damaged header → IMAGE_CORRUPT', async () => {
  const bytes = Buffer.from(readFixture('people-group.jpg'));
  // Keep the SOI marker so it is recognised as JPEG, then wreck everything after it.
  bytes.fill(0xab, 2, 600);
  await rejectsWith(bytes, 'IMAGE_CORRUPT');
});

test('pixel bomb (tiny PNG declaring 20000×20000) is refused from its header', async () => {
  const bytes = readFixture('pixel-bomb-20000x20000.png');
  assert.ok(bytes.length < 100_000, 'the bomb is small on disk');
  const error = await rejectsWith(bytes, 'IMAGE_TOO_MANY_PIXELS');
  assert.match(error.message, /20000×20000/);
});

test('input over maxInputBytes → IMAGE_TOO_LARGE before decoding', async () => {
  const bytes = readFixture('people-group.jpg');
  await rejectsWith(bytes, 'IMAGE_TOO_LARGE', { maxInputBytes: bytes.length - 1, maxPixels: defaultImageLimits.maxPixels });
  const image = await decodeImage(bytes, { maxInputBytes: bytes.length, maxPixels: defaultImageLimits.maxPixels });
  assert.equal(image.width, 640);
});

test('image over maxPixels → IMAGE_TOO_MANY_PIXELS', async () => {
  const bytes = readFixture('people-group.jpg'); // 640×427 = 273 280 pixels
  await rejectsWith(bytes, 'IMAGE_TOO_MANY_PIXELS', { maxInputBytes: defaultImageLimits.maxInputBytes, maxPixels: 273_279 });
  await decodeImage(bytes, { maxInputBytes: defaultImageLimits.maxInputBytes, maxPixels: 273_280 });
});

/** Mean absolute difference per channel value of two images of one size. */
function meanDifference(a: DecodedImage, b: DecodedImage): number {
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs((a.data[i] as number) - (b.data[i] as number));
  return sum / a.data.length;
}

test('maxSide decodes a large photo scaled down to fit, recording its own size; the pixels match the full decode scaled down', async () => {
  const photo = readFixture(samplePhotoNames()[0] as string);
  const large = await sharp(photo).resize(2400, 1600, { fit: 'fill' }).jpeg({ quality: 92 }).toBuffer();
  const image = await decodeImage(large, defaultImageLimits, undefined, { maxSide: 600 });
  assert.deepEqual([image.width, image.height, image.fullSize, image.maxSide], [600, 400, { width: 2400, height: 1600 }, 600]);
  assertRgb(image);
  // What the overlay used to be drawn on: the full decode, scaled down with the same kernel.
  const full = await decodeImage(large);
  assert.equal(full.fullSize, undefined);
  const reference = await sharp(full.data, rawInput(full)).resize(600, 400, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
  const difference = meanDifference(image, { ...full, data: reference, width: 600, height: 400 });
  assert.ok(difference < 2, `mean difference ${difference.toFixed(2)} of 255`);
});

test('maxSide: an image within it, and maxSide 0, decode at full size without fullSize', async () => {
  const photo = readFixture(samplePhotoNames()[0] as string);
  const full = await decodeImage(photo);
  for (const maxSide of [0, Math.max(full.width, full.height)]) {
    const image = await decodeImage(photo, defaultImageLimits, undefined, { maxSide });
    assert.deepEqual([image.width, image.height, image.fullSize, image.maxSide], [full.width, full.height, undefined, undefined], `maxSide ${maxSide}`);
  }
  await assert.rejects(decodeImage(photo, defaultImageLimits, undefined, { maxSide: -1 }), RangeError);
});

test('maxSide with EXIF orientation 6: the box fits the upright image, fullSize is the upright size', async () => {
  const image = await decodeImage(await jpegWithOrientation6(), defaultImageLimits, undefined, { maxSide: 30 });
  assert.deepEqual([image.width, image.height, image.fullSize], [20, 30, { width: 40, height: 60 }]);
  assertClose(pixelAt(image, 17, 2), [255, 0, 0], 60, 'top-right corner holds the red block');
});

test('decodedPixels is what decodeImage makes, for budgeting before decoding', async () => {
  const photo = readFixture(samplePhotoNames()[0] as string);
  const large = await sharp(photo).resize(2401, 1603, { fit: 'fill' }).jpeg().toBuffer();
  const header = await readImageHeader(large);
  for (const maxSide of [0, 600, 999, 2401, 4000]) {
    const image = await decodeImage(large, defaultImageLimits, header, { maxSide });
    assert.equal(decodedPixels(header, maxSide), image.width * image.height, `maxSide ${maxSide}`);
  }
});

test('decodeSideFor: the overlay side, never below four model inputs; 0 stays full size', () => {
  assert.equal(decodeSideFor(2048, { width: 224, height: 224 }), 2048);
  assert.equal(decodeSideFor(256, { width: 299, height: 299 }), 1196);
  assert.equal(decodeSideFor(0, { width: 224, height: 224 }), 0);
});

test('maxSide gives a thin strip its rounded aspect: libjpeg\'s reduced-scale decode does not cost it a pixel', async () => {
  for (const [width, height, expected] of [
    [23_541, 31, [2048, 3]],
    [52, 22_803, [5, 2048]],
    [9000, 7, [2048, 2]],
  ] as const) {
    const strip = await sharp({ create: { width, height, channels: 3, background: { r: 70, g: 100, b: 140 } } }).jpeg().toBuffer();
    const header = await readImageHeader(strip);
    const image = await decodeImage(strip, defaultImageLimits, header, { maxSide: 2048 });
    assert.deepEqual([image.width, image.height], expected, `${width}×${height}`);
    assert.equal(decodedPixels(header, 2048), image.width * image.height);
  }
});

test('running out of memory while decoding is IMAGING_OUT_OF_MEMORY, transient, not IMAGE_CORRUPT', { skip: process.platform === 'win32' }, async () => {
  // A real allocation failure: a PNG header declaring 500,000×50,000 (let through by raised
  // limits) needs a 75 GB output buffer, in a child limited to 64 GB of address space (room for
  // Node and tsx's WebAssembly reservations).
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer());
  png.writeUInt32BE(500_000, 16);
  png.writeUInt32BE(50_000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29); // IHDR's own checksum, which the decoder checks
  const script = `
    const { decodeImage } = await import(${JSON.stringify(new URL('./decode-image.ts', import.meta.url).href)});
    const bytes = Buffer.from(${JSON.stringify(png.toString('base64'))}, 'base64');
    try { await decodeImage(bytes, { maxInputBytes: 1e6, maxPixels: 1e12 }); console.log(JSON.stringify({ ok: true })); }
    catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, transient: e.transient, cause: e.cause?.message })); }
  `;
  const child = spawnSync('sh', ['-c', 'ulimit -v 64000000 && exec "$0" --import tsx --input-type=module --eval "$1"', process.execPath, script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const outcome = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  assert.deepEqual([outcome.name, outcome.code, outcome.transient], ['ImagingError', 'IMAGING_OUT_OF_MEMORY', true], JSON.stringify(outcome));
  assert.match(String(outcome.cause), /out of memory/);
});

/** PNG's CRC-32 (ISO 3309), for a header edited in place. */
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
