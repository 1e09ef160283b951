import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readFile, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { type ArtifactFile, buildImageArtifacts } from '@gradcam/artifacts';
import { manifestFileName } from '@gradcam/contracts';
import { type ExplainOptions, type Explainer, type SelectedBackend } from '@gradcam/engine';
import { type DecodedImage, type OverlayOptions, decodeImage, decodeSideFor, defaultImageLimits, toModelInput } from '@gradcam/imaging';
import { UsageError } from './cli-error.ts';
import { CommandError } from './command-error.ts';
import { withFolderLock } from './folder-lock.ts';
import { readInputFile } from './input-files.ts';

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
  /** The write failure that stopped the run (the output is full or read-only), or null: files after it were not written. */
  readonly stopped: FileFailure | null;
}

/** Errors that every later write to the output would meet too: the run stops at the first. */
export const outputUnwritableCodes: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/** Node's "EACCES: permission denied, mkdir 'x'" as "EACCES: permission denied" (the line names the folder). */
const shortFsMessage = (error: NodeJS.ErrnoException) => error.message.replace(/, \w+ '.*'$/s, '');

/**
 * Makes `outDir` (each missing folder of its path with a plain mkdir) and checks that it can be
 * written, before the model loads and any image is explained: a file named as --out, a path
 * through a file, or a folder that cannot be written is one line, not one failure per image.
 * Not `mkdir(…, { recursive: true })`: on Node 20 that loops for ever where a file system answers
 * ENOENT for a name whose parent exists (`--out /proc/nope`). Returns the folders it made,
 * outermost first, for {@link removeMadeFolders}.
 */
export async function prepareOutputFolder(outDir: string): Promise<string[]> {
  const made: string[] = [];
  const make = async (dir: string): Promise<void> => {
    const info = await stat(dir).catch((error: NodeJS.ErrnoException) => error);
    if (!(info instanceof Error)) {
      if (!info.isDirectory()) throw new UsageError(`--out ${outDir}: ${dir === outDir ? 'it' : dir} is a file, not a folder`);
      return;
    }
    if (info.code === 'ENOTDIR') throw new UsageError(`--out ${outDir}: a part of the path is a file, not a folder`);
    if (info.code !== 'ENOENT' || dirname(dir) === dir) throw new CommandError(`cannot use the output folder ${outDir}: ${shortFsMessage(info)}`, 'OUTPUT_UNWRITABLE');
    await make(dirname(dir));
    await mkdir(dir).then(
      () => made.push(dir),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw new CommandError(`cannot create the output folder ${dir}: ${shortFsMessage(error)}`, 'OUTPUT_UNWRITABLE');
      },
    );
  };
  try {
    await make(outDir);
    await access(outDir, constants.W_OK | constants.X_OK).catch((error: NodeJS.ErrnoException) => {
      throw new CommandError(`cannot write to the output folder ${outDir}: ${shortFsMessage(error)}`, 'OUTPUT_UNWRITABLE');
    });
  } catch (error) {
    await removeMadeFolders(made);
    throw error;
  }
  return made;
}

/**
 * Removes the folders {@link prepareOutputFolder} made, innermost first, each only while it is
 * empty (rmdir): a run that ends without writing anything leaves no empty --out behind, and
 * never removes what was there before it or what something else put there meanwhile.
 */
export async function removeMadeFolders(made: readonly string[]): Promise<void> {
  for (const dir of [...made].reverse()) {
    if (!(await rmdir(dir).then(() => true, () => false))) return;
  }
}

interface Decoded {
  readonly file: string;
  readonly bytes: Buffer;
  readonly image: DecodedImage;
  readonly input: Float32Array;
}

function failureOf(file: string, error: unknown): FileFailure {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code !== 'string') return { file, code: 'INTERNAL', message };
  // Node's file system errors start with their code and end with the path ("ENOSPC: no space left
  // on device, open '…/.gradcam-0.npy.1f2e.tmp'"): the line prints the code before the message
  // already, and the path of a temporary says nothing to the reader.
  const short = message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message;
  return { file, code, message: typeof (error as { path?: unknown }).path === 'string' ? short.replace(/(, \w+) '.*'$/s, '$1') : short };
}

/** A per-file failure with a stable code, reported on that file's line. */
function cliFileError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A folder name from a file name: safe characters only, never `.`, `..` or a hidden name. */
function stemOf(file: string): string {
  const stem = basename(file, extname(file)).replace(/[^A-Za-z0-9_.-]/g, '_');
  return /^\.*$/.test(stem) ? 'image' : stem.replace(/^\./, '_');
}

/**
 * `photos/cat.jpg` → `cat`; a second `cat` (another folder) → `cat-2`, or `cat-3` when a file is
 * itself called `cat-2`: every file keeps its own name where it can, and no two names are equal
 * ignoring case (macOS and Windows folders are case-insensitive), so nothing is overwritten. The
 * same list gives the same names.
 */
export function outputStems(files: readonly string[]): Map<string, string> {
  const taken = new Set<string>();
  const stems = new Map<string, string>();
  const clashes: [string, string][] = [];
  for (const file of files) {
    const stem = stemOf(file);
    if (taken.has(stem.toLowerCase())) clashes.push([file, stem]);
    else {
      taken.add(stem.toLowerCase());
      stems.set(file, stem);
    }
  }
  for (const [file, stem] of clashes) {
    let n = 2;
    while (taken.has(`${stem}-${n}`.toLowerCase())) n++;
    taken.add(`${stem}-${n}`.toLowerCase());
    stems.set(file, `${stem}-${n}`);
  }
  return stems;
}

/** `outDir/stem`, refused if it would resolve anywhere but directly inside `outDir`. */
function outputFolder(outDir: string, stem: string): string {
  const dir = resolve(outDir, stem);
  const rel = relative(resolve(outDir), dir);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel !== basename(rel)) {
    throw cliFileError('OUTPUT_INVALID', `output folder name "${stem}" would leave ${outDir}`);
  }
  return join(outDir, stem);
}

const artifactName = String.raw`(?:[a-z0-9]+-\d+\.(?:npy|overlay\.jpg)|input\.preview\.jpg)`;
/**
 * Names this command writes into an image's folder: `<method>-<class>.npy|.overlay.jpg`,
 * `input.preview.jpg`, and the temporaries `.<name>.<hex>.tmp` of those and of the manifest (a
 * killed run's are left behind).
 */
const ownFile = new RegExp(`^(?:${artifactName}|\\.(?:${artifactName}|${manifestFileName.replaceAll('.', '\\.')})\\.[0-9a-f]+\\.tmp)$`);

/** Artifact paths an earlier manifest in `dir` lists (plain file names only), or none. */
async function previouslyListed(dir: string): Promise<string[]> {
  try {
    const old = JSON.parse(await readFile(join(dir, manifestFileName), 'utf8')) as {
      input?: { preview?: { path?: unknown } };
      explanations?: { rawMap?: { path?: unknown }; overlay?: { path?: unknown } }[];
    };
    const paths = [...(old.explanations ?? []).flatMap((e) => [e.rawMap?.path, e.overlay?.path]), old.input?.preview?.path];
    return paths.filter((p): p is string => typeof p === 'string' && p === basename(p) && p !== '.' && p !== '..');
  } catch {
    return [];
  }
}

/** Writes `body` to a new file at `path`, never through a link or file already there ('wx': O_CREAT | O_EXCL). */
async function writeNewFile(path: string, body: Uint8Array, begun: Set<string>): Promise<void> {
  const handle = await open(path, 'wx');
  // Only once it is this call's own: a name that existed (EEXIST) belongs to someone else.
  begun.add(path);
  try {
    await handle.writeFile(body);
  } finally {
    await handle.close();
  }
}

/** The lock file a run holds in an image's folder while it writes there (see {@link writeImageFolder}). */
export const folderLockName = '.explanation.json.lock';

/** Makes `dir` if missing: a plain mkdir, as a recursive one can loop for ever on Node 20 (the output folder exists: prepareOutputFolder). Whether it made it. */
const makeFolder = (dir: string) =>
  mkdir(dir).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
      return false;
    },
  );

/**
 * Writes one image's folder so that it is complete or has no manifest, and so that a failed write
 * leaves an earlier result there as it was. Every file is first written whole under a temporary
 * name; only then does the old manifest go, the files are renamed into place and the manifest
 * last; files of an earlier result the new manifest does not list (other methods or classes) and
 * temporaries of killed runs go after that. A folder with `explanation.json` is always a whole run's.
 * Two runs writing the same folder at once (two `explain` into one --out) take turns: each holds
 * {@link folderLockName} there while it writes, so neither removes the other's temporaries as a
 * killed run's, nor files the other's manifest lists; a lock whose process is gone is taken over.
 */
export async function writeImageFolder(dir: string, artifacts: readonly ArtifactFile[]): Promise<void> {
  const manifest = artifacts.find((a) => a.path === manifestFileName);
  if (!manifest) throw new Error(`artifacts for ${dir} have no ${manifestFileName}`);
  let created = await makeFolder(dir);
  try {
    await withFolderLock(join(dir, folderLockName), () => writeLocked(dir, manifest, artifacts), {
      // A run that failed in a folder it made removes it (rmdir, while empty): made again for this one.
      remake: async () => {
        created = (await makeFolder(dir)) || created;
      },
    });
  } catch (error) {
    // Only once the lock is gone: the folder is empty unless another run writes there now.
    if (created) await rmdir(dir).catch(() => undefined);
    throw error;
  }
}

async function writeLocked(dir: string, manifest: ArtifactFile, artifacts: readonly ArtifactFile[]): Promise<void> {
  const ordered = [...artifacts.filter((a) => a !== manifest), manifest];
  const token = randomBytes(6).toString('hex');
  const temporaryOf = (name: string) => join(dir, `.${name}.${token}.tmp`);
  /** This call's temporaries: removed again if it fails (a 0-byte .npy or half an overlay on a full disk). */
  const begun = new Set<string>();
  let listed: string[];
  try {
    // A full disk, a quota or a refused write fails here, before anything of an earlier result changed.
    for (const artifact of ordered) await writeNewFile(temporaryOf(artifact.path), artifact.body, begun);
    listed = await previouslyListed(dir);
    // The old manifest goes first: while the files are renamed it would vouch for files not its own.
    await unlink(join(dir, manifestFileName)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    for (const artifact of ordered) {
      await rename(temporaryOf(artifact.path), join(dir, artifact.path));
      begun.delete(temporaryOf(artifact.path));
    }
  } catch (error) {
    // Only this call's temporaries. Best effort: a read-only file system refuses the unlinks too.
    await Promise.all([...begun].map((path) => unlink(path).catch(() => undefined)));
    throw error;
  }
  // The folder is complete: what is left over is removed best effort (the next run tries again).
  const keep = new Set(artifacts.map((a) => a.path));
  const present = await readdir(dir).catch(() => []);
  const stale = new Set([...listed, ...present.filter((name) => ownFile.test(name))].filter((name) => !keep.has(name)));
  await Promise.all([...stale].map((name) => unlink(join(dir, name)).catch(() => undefined)));
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
  let stopped: FileFailure | null = null;

  const decodeBatch = async (batch: readonly string[]) => {
    const t0 = performance.now();
    const settled = await Promise.all(
      batch.map(async (file): Promise<Decoded | FileFailure> => {
        try {
          const bytes = await readInputFile(file);
          // As the worker does: a photo larger than the overlays is decoded at their size.
          const image = await decodeImage(bytes, defaultImageLimits, undefined, { maxSide: decodeSideFor(options.overlayMaxSide, spec) });
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
    // The output took no more: this batch and the rest are not written (and not failures of theirs).
    if (stopped) break;
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
              ...(options.backend.details === undefined ? {} : { backendDetails: options.backend.details }),
              timings: { batchSize: decoded.length, decodeMs, ...explained.timings },
              overlay: options.overlay,
              overlayMaxSide: options.overlayMaxSide,
            });
            const dir = outputFolder(options.outDir, stems.get(d.file) as string);
            await writeImageFolder(dir, artifacts);
            written.push({ file: d.file, dir });
            succeeded++;
          } catch (error) {
            const failure = failureOf(d.file, error);
            batchFailures.push(failure);
            if (outputUnwritableCodes.has(failure.code)) {
              stopped = failure;
              break;
            }
          }
        }
      }
      failures.push(...batchFailures);
      options.onBatch?.(succeeded, batchFailures);
    })();
  }
  await pendingWrite;
  return { written, failures, seconds: (performance.now() - started) / 1000, stopped };
}
