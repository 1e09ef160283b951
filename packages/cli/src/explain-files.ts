import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { buildImageArtifacts } from '@gradcam/artifacts';
import { type ExplainOptions, type Explainer, type SelectedBackend } from '@gradcam/engine';
import { type DecodedImage, type OverlayOptions, decodeImage, toModelInput } from '@gradcam/imaging';

export interface ExplainFilesOptions {
  readonly explainer: Explainer;
  readonly backend: SelectedBackend;
  readonly files: readonly string[];
  readonly outDir: string;
  readonly batchSize: number;
  readonly explain: ExplainOptions;
  readonly overlay: OverlayOptions;
  /** Longest side of an overlay; larger images are drawn scaled down (0: no limit). */
  readonly overlayMaxSide: number;
  readonly onBatch?: (succeeded: number, failed: readonly FileFailure[]) => void;
}

export interface FileFailure {
  readonly file: string;
  readonly code: string;
  readonly message: string;
}

export interface ExplainFilesResult {
  readonly written: { file: string; dir: string }[];
  readonly failures: FileFailure[];
  readonly seconds: number;
}

interface Decoded {
  readonly file: string;
  readonly bytes: Buffer;
  readonly image: DecodedImage;
  readonly input: Float32Array;
}

function failureOf(file: string, error: unknown): FileFailure {
  const code = (error as { code?: unknown }).code;
  return { file, code: typeof code === 'string' ? code : 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

/** `photos/cat.jpg` → `cat`; a second `cat` (another folder) → `cat-2`, so nothing is overwritten. */
export function outputStems(files: readonly string[]): Map<string, string> {
  const used = new Map<string, number>();
  const stems = new Map<string, string>();
  for (const file of files) {
    const stem = basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '_') || 'image';
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    stems.set(file, n === 1 ? stem : `${stem}-${n}`);
  }
  return stems;
}

/**
 * Explains files batch by batch. Decoding the next batch (sharp, on libuv's thread pool) and
 * writing the previous one overlap with the engine working on the current batch.
 */
export async function explainFiles(options: ExplainFilesOptions): Promise<ExplainFilesResult> {
  const { explainer, files, batchSize } = options;
  const spec = explainer.model.descriptor.preprocessing;
  const stems = outputStems(files);
  const started = performance.now();
  const written: { file: string; dir: string }[] = [];
  const failures: FileFailure[] = [];

  const decodeBatch = async (batch: readonly string[]) => {
    const t0 = performance.now();
    const settled = await Promise.all(
      batch.map(async (file): Promise<Decoded | FileFailure> => {
        try {
          const bytes = await readFile(file);
          const image = await decodeImage(bytes);
          return { file, bytes, image, input: await toModelInput(image, spec) };
        } catch (error) {
          return failureOf(file, error);
        }
      }),
    );
    return { settled, decodeMs: performance.now() - t0 };
  };

  const batches: string[][] = [];
  for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));
  let nextDecode = batches[0] ? decodeBatch(batches[0]) : undefined;
  let pendingWrite: Promise<void> = Promise.resolve();

  for (let b = 0; b < batches.length; b++) {
    const { settled, decodeMs } = await (nextDecode as ReturnType<typeof decodeBatch>);
    nextDecode = batches[b + 1] ? decodeBatch(batches[b + 1] as string[]) : undefined;
    const decoded = settled.filter((d): d is Decoded => 'input' in d);
    const batchFailures = settled.filter((d): d is FileFailure => !('input' in d));
    let result: Awaited<ReturnType<Explainer['explain']>> | undefined;
    if (decoded.length > 0) {
      try {
        result = await explainer.explain(decoded.map((d) => d.input), options.explain);
      } catch (error) {
        batchFailures.push(...decoded.map((d) => failureOf(d.file, error)));
      }
    }
    await pendingWrite;
    const explained = result;
    pendingWrite = (async () => {
      let succeeded = 0;
      if (explained) {
        for (const [i, d] of decoded.entries()) {
          try {
            const { files: artifacts } = await buildImageArtifacts({
              source: d.file,
              bytes: d.bytes,
              image: d.image,
              explanation: explained.images[i] as (typeof explained.images)[number],
              model: explainer.model,
              backend: options.backend.name,
              timings: { batchSize: decoded.length, decodeMs, ...explained.timings },
              overlay: options.overlay,
              overlayMaxSide: options.overlayMaxSide,
            });
            const dir = join(options.outDir, stems.get(d.file) as string);
            await mkdir(dir, { recursive: true });
            // The manifest is the last file: its presence means the folder is complete.
            for (const artifact of artifacts) await writeFile(join(dir, artifact.path), artifact.body);
            written.push({ file: d.file, dir });
            succeeded++;
          } catch (error) {
            batchFailures.push(failureOf(d.file, error));
          }
        }
      }
      failures.push(...batchFailures);
      options.onBatch?.(succeeded, batchFailures);
    })();
  }
  await pendingWrite;
  return { written, failures, seconds: (performance.now() - started) / 1000 };
}
