/**
 * `npm run bench:imaging [-- options]`: CPU per image of the worker's imaging steps on the
 * fixture photos, one step at a time on this thread: the header read, decode (to the overlay's
 * size, as the worker does), the model input, the overlay's base (the image scaled down to the
 * overlay size limit, once per image, when the decode did not already) and one
 * overlay (blend + JPEG encode). The pipeline's CPU budget is engine + these + queue and storage;
 * this part of it is measured alone, away from the engine and the other processes.
 */
import sharp from 'sharp';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { PreprocessingSpec } from '@gradcam/contracts';
import { builtinModels } from '@gradcam/engine';
import { type DecodedImage, type ImageHeader, decodeImage, decodeSideFor, defaultImageLimits, defaultOverlayMaxSide, overlayBase, readImageHeader, renderOverlay, toModelInput } from '@gradcam/imaging';
import { BenchArgsError, benchArgsOrExit, parsePositive } from './bench-args.ts';
import { environmentLine, environmentRow, jsonLine } from './bench-report.ts';
import { fixtureImagesDir, fixturePhotos } from './fixture-batch.ts';
import { median } from './sample-statistics.ts';

const usage = `Usage: npm run bench:imaging -- [options]

CPU per image of header, decode, model input, overlay base and one overlay on the fixture photos, one step at
a time on one thread. Decode reuses the header read and, like the worker, decodes a photo larger than the
overlay straight to the overlay's size (then the overlay base costs nothing); every overlay of an image is
drawn on one base, as the worker does, so the steps add up to the "all" row for an image with one overlay (sharp's own threads
included: process CPU is counted). Each repeat times every photo --rounds times per step; the table gives the
median repeat and the range.

  --megapixels N        scale each photo to about N megapixels first (aspect kept) and encode it as a
                        quality-90 JPEG, to see what larger uploads cost (default: the photos as they are,
                        0.26 megapixels on average). Upscaled photos are smoother than real ones of that
                        size, so their JPEG decode is somewhat cheaper
  --overlay-max-side N  longest side of an overlay, as GRADCAM_OVERLAY_MAX_SIDE (default ${defaultOverlayMaxSide}; 0: full size)
  --rounds N            passes over the photos per repeat (default 30)
  --repeats N           repeats (default 5)
  --json                JSON lines on stdout instead of a table
  --help`;

interface Args {
  readonly megapixels: number | undefined;
  readonly overlayMaxSide: number;
  readonly rounds: number;
  readonly repeats: number;
  readonly json: boolean;
}

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      megapixels: { type: 'string' },
      'overlay-max-side': { type: 'string' },
      rounds: { type: 'string' },
      repeats: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return undefined;
  const whole = (flag: string, value: string | undefined, fallback: number) => (value === undefined ? fallback : parsePositive(flag, value, { integer: true, allowZero: false }));
  const overlayMaxSide = values['overlay-max-side'] === undefined ? defaultOverlayMaxSide : parsePositive('overlay-max-side', values['overlay-max-side'], { integer: true, allowZero: true });
  const megapixels = values.megapixels === undefined ? undefined : parsePositive('megapixels', values.megapixels, { integer: false, allowZero: false });
  if (megapixels !== undefined && megapixels > defaultImageLimits.maxPixels / 1e6) throw new BenchArgsError(`--megapixels must be at most ${defaultImageLimits.maxPixels / 1e6}, the decode limit`);
  return { megapixels, overlayMaxSide, rounds: whole('rounds', values.rounds, 30), repeats: whole('repeats', values.repeats, 5), json: values.json };
}

const pixelsOf = ({ width, height }: { width: number; height: number }): number => width * height;

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function main(): Promise<number> {
  const args = benchArgsOrExit(parse, usage);
  if (typeof args === 'number') return args;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const env = environmentRow();
  out(args.json ? jsonLine(env) : environmentLine(env));

  const model = builtinModels[0];
  if (!model) throw new Error('no built-in model');
  const spec = model.descriptor.preprocessing;
  const photos = await Promise.all((await fixturePhotos()).map((file) => readFile(fixtureImagesDir + file)));
  const files = args.megapixels === undefined ? photos : await Promise.all(photos.map((bytes) => scaledTo(bytes, args.megapixels ?? 0)));
  // The worker reads each header first (to budget a batch's decoded pixels) and hands it to the
  // decode, so decode here reuses it too: the steps add up to what the worker spends, header once.
  const headers = await Promise.all(files.map((bytes) => readImageHeader(bytes)));
  // As the worker does: decoded straight to the overlay's size when the photo is larger.
  const decode = (i: number) => decodeImage(files[i] as Buffer, defaultImageLimits, headers[i], { maxSide: decodeSideFor(args.overlayMaxSide, spec) });
  const images: DecodedImage[] = await Promise.all(files.map((_, i) => decode(i)));
  const bases = await Promise.all(images.map((image) => overlayBase(image, args.overlayMaxSide)));
  // A 7×7 map, MobileNetV2's last feature map at 224 px, with a gradient so every colour is used.
  const map = Float32Array.from({ length: 49 }, (_, i) => ((i % 7) + Math.floor(i / 7)) / 12);
  const steps: Record<string, (i: number) => Promise<unknown>> = {
    header: (i) => readImageHeader(files[i] as Buffer),
    decode,
    'model input': (i) => toModelInput(images[i] as DecodedImage, spec),
    'overlay base': (i) => overlayBase(images[i] as DecodedImage, args.overlayMaxSide),
    overlay: (i) => renderOverlay(bases[i] as DecodedImage, map, 7, 7, spec),
  };
  const pixels = images.reduce((sum, image) => sum + pixelsOf(image.fullSize ?? image), 0) / images.length;
  const decodedPixels = images.reduce((sum, image) => sum + pixelsOf(image), 0) / images.length;
  const overlayPixels = bases.reduce((sum, image) => sum + pixelsOf(image), 0) / bases.length;
  if (args.json) {
    const input = { kind: 'imaging-input', photos: images.length, megapixels: pixels / 1e6, decodedMegapixels: decodedPixels / 1e6, overlayMegapixels: overlayPixels / 1e6, overlayMaxSide: args.overlayMaxSide };
    out(jsonLine(input));
  } else {
    out(`${images.length} fixture photos, ${(pixels / 1e6).toFixed(2)} megapixels on average${args.megapixels === undefined ? '' : ' (scaled)'}, decoded to ${(decodedPixels / 1e6).toFixed(2)}, overlays ${(overlayPixels / 1e6).toFixed(2)} (longest side at most ${args.overlayMaxSide || 'full size'}); model input ${spec.width}×${spec.height} (${model.descriptor.name}); ${args.repeats} repeats of ${args.rounds} rounds`);
    out(`${'step'.padEnd(12)}  ${'CPU ms/image'.padStart(12)}  ${'range'.padStart(13)}  ${'wall ms/image'.padStart(13)}`);
  }
  let total = 0;
  for (const [step, run] of Object.entries(steps)) {
    for (let i = 0; i < images.length * 3; i++) await run(i % images.length); // untimed: V8 and libvips warm up
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < args.repeats; r++) {
      const [c0, w0] = [cpuMs(), performance.now()];
      for (let round = 0; round < args.rounds; round++) for (let i = 0; i < images.length; i++) await run(i);
      const n = args.rounds * images.length;
      cpu.push((cpuMs() - c0) / n);
      wall.push((performance.now() - w0) / n);
    }
    const row = { kind: 'imaging-step', step, cpuMsPerImage: median(cpu), cpuMsRange: [Math.min(...cpu), Math.max(...cpu)], wallMsPerImage: median(wall) };
    total += row.cpuMsPerImage;
    out(args.json ? jsonLine(row) : `${step.padEnd(12)}  ${row.cpuMsPerImage.toFixed(2).padStart(12)}  ${`${row.cpuMsRange[0]?.toFixed(2)}–${row.cpuMsRange[1]?.toFixed(2)}`.padStart(13)}  ${row.wallMsPerImage.toFixed(2).padStart(13)}`);
  }
  const all = { kind: 'imaging-total', cpuMsPerImage: total };
  out(args.json ? jsonLine(all) : `${'all'.padEnd(12)}  ${total.toFixed(2).padStart(12)}`);
  const scaled = images.flatMap((image, i) => (image.fullSize === undefined ? [] : [i]));
  if (scaled.length > 0) {
    const { mean, max } = await inputDifference(scaled.map((i) => files[i] as Buffer), scaled.map((i) => headers[i] as ImageHeader), decodeSideFor(args.overlayMaxSide, spec), spec);
    const row = { kind: 'imaging-input-difference', photos: scaled.length, meanLevels: mean, maxLevels: max };
    out(args.json ? jsonLine(row) : `model input made from the scaled decode of ${scaled.length} photos: ${mean.toFixed(2)} 8-bit levels from the full decode's on average, ${max.toFixed(0)} at most`);
  }
  return 0;
}

/**
 * How far the model input made from a decode scaled to the overlay size lies from the one made
 * from the full decode, in 8-bit levels of the input image (value differences × std ÷ scale).
 */
async function inputDifference(files: readonly Buffer[], headers: readonly ImageHeader[], maxSide: number, spec: PreprocessingSpec): Promise<{ mean: number; max: number }> {
  let [sum, count, max] = [0, 0, 0];
  for (const [n, bytes] of files.entries()) {
    const header = headers[n];
    const full = await toModelInput(await decodeImage(bytes, defaultImageLimits, header), spec);
    const scaled = await toModelInput(await decodeImage(bytes, defaultImageLimits, header, { maxSide }), spec);
    for (let i = 0; i < full.length; i++) {
      const levels = (Math.abs((full[i] as number) - (scaled[i] as number)) * (spec.std[i % 3] ?? 1)) / spec.scale;
      sum += levels;
      count += 1;
      max = Math.max(max, levels);
    }
  }
  return { mean: sum / count, max };
}

/** The photo resized to about `megapixels`, aspect kept, as a quality-90 JPEG (what a camera or an app uploads). */
async function scaledTo(bytes: Buffer, megapixels: number): Promise<Buffer> {
  const { width = 1, height = 1 } = await sharp(bytes).metadata();
  const scale = Math.sqrt((megapixels * 1e6) / (width * height));
  return sharp(bytes, { autoOrient: true })
    .resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), { fit: 'fill', kernel: 'lanczos3' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

process.exitCode = await main();
