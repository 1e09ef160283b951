/**
 * `npm run bench:imaging [-- options]`: CPU per image of the worker's imaging steps on the
 * fixture photos, one step at a time on this thread: the header read, decode, the model input,
 * the overlay (blend + JPEG encode). The pipeline's CPU budget is engine + these + queue and storage; this part of
 * it is measured alone, away from the engine and the other processes.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { builtinModels } from '@gradcam/engine';
import { type DecodedImage, decodeImage, defaultImageLimits, readImageHeader, renderOverlay, toModelInput } from '@gradcam/imaging';
import { benchArgsOrExit, parsePositive } from './bench-args.ts';
import { environmentLine, environmentRow, jsonLine } from './bench-report.ts';
import { fixtureImagesDir, fixturePhotos } from './fixture-batch.ts';
import { median } from './sample-statistics.ts';

const usage = `Usage: npm run bench:imaging -- [options]

CPU per image of header, decode, model input and overlay on the fixture photos, one step at a time on one
thread. Decode reuses the header read, as the worker does, so the steps add up to the "all" row (sharp's own threads included: process CPU is counted). Each repeat times every photo
--rounds times per step; the table gives the median repeat and the range.

  --rounds N    passes over the photos per repeat (default 30)
  --repeats N   repeats (default 5)
  --json        JSON lines on stdout instead of a table
  --help`;

interface Args {
  readonly rounds: number;
  readonly repeats: number;
  readonly json: boolean;
}

function parse(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: { rounds: { type: 'string' }, repeats: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) return undefined;
  const whole = (flag: string, value: string | undefined, fallback: number) => (value === undefined ? fallback : parsePositive(flag, value, { integer: true, allowZero: false }));
  return { rounds: whole('rounds', values.rounds, 30), repeats: whole('repeats', values.repeats, 5), json: values.json };
}

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
  const files = await Promise.all((await fixturePhotos()).map((file) => readFile(fixtureImagesDir + file)));
  // The worker reads each header first (to budget a batch's decoded pixels) and hands it to the
  // decode, so decode here reuses it too: the steps add up to what the worker spends, header once.
  const headers = await Promise.all(files.map((bytes) => readImageHeader(bytes)));
  const images: DecodedImage[] = await Promise.all(files.map((bytes, i) => decodeImage(bytes, defaultImageLimits, headers[i])));
  // A 7×7 map, MobileNetV2's last feature map at 224 px, with a gradient so every colour is used.
  const map = Float32Array.from({ length: 49 }, (_, i) => ((i % 7) + Math.floor(i / 7)) / 12);
  const steps: Record<string, (i: number) => Promise<unknown>> = {
    header: (i) => readImageHeader(files[i] as Buffer),
    decode: (i) => decodeImage(files[i] as Buffer, defaultImageLimits, headers[i]),
    'model input': (i) => toModelInput(images[i] as DecodedImage, spec),
    overlay: (i) => renderOverlay(images[i] as DecodedImage, map, 7, 7, spec),
  };
  const pixels = images.reduce((sum, image) => sum + image.width * image.height, 0) / images.length;
  if (!args.json) {
    out(`${images.length} fixture photos, ${(pixels / 1e6).toFixed(2)} megapixels on average; model input ${spec.width}×${spec.height} (${model.descriptor.name}); ${args.repeats} repeats of ${args.rounds} rounds`);
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
  return 0;
}

process.exitCode = await main();
