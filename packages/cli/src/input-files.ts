import { open, readdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { extname, join } from 'node:path';
import { explanationManifestSchema, inputPreviewFileName, manifestFileName } from '@gradcam/contracts';
import { ImagingError, defaultImageLimits } from '@gradcam/imaging';

export const imageExtensions = new Set(['.jpg', '.jpeg', '.jpe', '.jfif', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

/** A path named or met in a walk that could not be listed or read. */
export interface ListingProblem {
  readonly path: string;
  /** `NOT_FOUND` (no such path, a link that leads nowhere), `NAME_NOT_UTF8`, or the errno code (`EACCES`, `ELOOP`, …). */
  readonly code: string;
  readonly message: string;
  /** What a line says after the path: the message, with the code before it unless it is `NOT_FOUND`. */
  readonly reason: string;
}

export interface InputListing {
  readonly files: string[];
  /** Paths that do not exist, links that lead nowhere and folders or files that could not be read. */
  readonly missing: ListingProblem[];
  /** Paths named that are an excluded folder (`explain --out`), left out whole. */
  readonly excluded: string[];
  /** What a walk left out as an earlier run's output: folders holding a gradcam manifest (their paths), and overlay files. */
  readonly skipped: { readonly outputFolders: readonly string[]; readonly overlays: number };
}

/** What explain and demo say of an image listed and then gone when they read it: as the listing says of a missing path. */
export const removedSinceListed = { code: 'NOT_FOUND', message: 'no such file (removed since it was listed?)' } as const;

/** A per-file failure with a stable code, reported on that file's line (which names the file). */
const inputFileError = (code: string, message: string) => Object.assign(new Error(message), { code });

const isImageName = (name: string) => imageExtensions.has(extname(name).toLowerCase());
/** `explain` writes `<method>-<class>.overlay.jpg` and `input.preview.jpg`: met in a walk, they are output, not input. */
const isOverlayName = (name: string) => {
  const lower = name.toLowerCase();
  return lower.endsWith('.overlay.jpg') || lower === inputPreviewFileName;
};
/** Device + inode: the same folder or file reached by two paths (a symbolic link) is one. */
const identity = (info: Stats) => `${info.dev}:${info.ino}`;

function problem(path: string, code: string, message: string): ListingProblem {
  return { path, code, message, reason: code === 'NOT_FOUND' ? message : `${code}: ${message}` };
}

/** Node's "EACCES: permission denied, scandir '/a/b'" as code EACCES and message "permission denied" (the path is on the line already). */
function fileSystemProblem(path: string, error: NodeJS.ErrnoException, notFound: string): ListingProblem {
  if (error.code === 'ENOENT') return problem(path, 'NOT_FOUND', notFound);
  const code = typeof error.code === 'string' ? error.code : 'INTERNAL';
  return problem(path, code, error.message.replace(`${code}: `, '').replace(/, \w+ '.*'$/s, ''));
}

interface Walk {
  readonly files: string[];
  readonly missing: ListingProblem[];
  /** Folders walked and files listed, by identity: a link loop ends, a linked image is listed once. */
  readonly seen: Set<string>;
  /** Folders never walked, by identity (the output folder). */
  readonly excluded: Set<string>;
  readonly skipped: { outputFolders: string[]; overlays: number };
}

export interface ListInputOptions {
  /**
   * Folders left out wherever they are met: `explain --out` inside an input folder, whose overlays
   * a walk would otherwise take for inputs and explain again on every run. Missing ones are ignored.
   */
  readonly exclude?: readonly string[];
}

/** Names are read as bytes: a name that is not UTF-8 would come back with U+FFFD in it, a path that does not exist. */
const isUtf8 = (name: Buffer) => Buffer.from(name.toString('utf8'), 'utf8').equals(name);

/** Larger than any manifest (5 classes: 3 KB; 1000 classes and 7 methods: well under 1 MB): a bigger file is not one. */
const maxManifestBytes = 16 * 2 ** 20;

/** Whether `path` is a gradcam manifest: a folder's own notes called explanation.json are not. */
async function isManifest(path: string): Promise<boolean> {
  try {
    const bytes = await readRegularFile(path, maxManifestBytes);
    return explanationManifestSchema.safeParse(JSON.parse(bytes.toString('utf8'))).success;
  } catch {
    return false;
  }
}

/** Walks `dir`; `given`: named on the command line, walked even when it is an earlier run's output. */
async function walk(dir: string, state: Walk, given: boolean): Promise<void> {
  let entries: Dirent<Buffer>[];
  try {
    entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    // One unreadable folder (no permission, removed meanwhile, an I/O error) is reported like an
    // unreadable file; the rest is still walked.
    state.missing.push(fileSystemProblem(dir, error as NodeJS.ErrnoException, 'no such folder (removed while being read?)'));
    return;
  }
  // A folder holding a manifest met in a walk is an earlier run's output (`explain --out` given
  // another time): its overlays are not inputs.
  if (!given && entries.some((entry) => entry.name.toString('utf8') === manifestFileName && !entry.isDirectory()) && (await isManifest(join(dir, manifestFileName)))) {
    state.skipped.outputFolders.push(dir);
    return;
  }
  const named = entries.map((entry) => ({ entry, name: entry.name.toString('utf8') }));
  named.sort((a, b) => a.name.localeCompare(b.name));
  for (const { entry, name } of named) {
    const path = join(dir, name);
    if (!entry.isDirectory() && !entry.isFile() && !entry.isSymbolicLink()) continue;
    if (!isUtf8(entry.name)) {
      // `path` (a string) would not reach this file; say why it is left out rather than call it missing.
      if (isImageName(name) || entry.isDirectory()) state.missing.push(problem(path, 'NAME_NOT_UTF8', 'its name is not valid UTF-8; rename it to explain it'));
      continue;
    }
    if (isOverlayName(name) && !entry.isDirectory()) {
      state.skipped.overlays++;
      continue;
    }
    // stat follows symbolic links, to images and to folders alike.
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      if (isImageName(name) || entry.isDirectory()) {
        state.missing.push(fileSystemProblem(path, info, entry.isSymbolicLink() ? 'broken symbolic link' : 'no such file or folder (removed while being read?)'));
      }
      continue;
    }
    if (state.seen.has(identity(info))) continue;
    if (info.isDirectory()) {
      if (state.excluded.has(identity(info))) continue;
      state.seen.add(identity(info));
      await walk(path, state, false);
    } else if (info.isFile() && isImageName(name)) {
      state.seen.add(identity(info));
      state.files.push(path);
    }
  }
}

/**
 * Files named on the command line are taken as they are (a wrong one gets its own error line
 * later); folders are walked recursively for image extensions, in a stable order, following
 * symbolic links (each folder and file once, so a link loop ends). A walk leaves out earlier
 * `explain` output: folders below those named holding an `explanation.json` that is a gradcam
 * manifest, and `*.overlay.jpg` files. A folder named is walked even when it holds a manifest.
 */
export async function listInputFiles(paths: readonly string[], options: ListInputOptions = {}): Promise<InputListing> {
  const state: Walk = { files: [], missing: [], seen: new Set(), excluded: new Set(), skipped: { outputFolders: [], overlays: 0 } };
  const excluded: string[] = [];
  // By identity, so a path spelt differently or reached through a link is still the same folder.
  for (const path of options.exclude ?? []) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) state.excluded.add(identity(info));
  }
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) state.missing.push(fileSystemProblem(path, info, 'no such file or folder'));
    else if (info.isDirectory()) {
      if (state.excluded.has(identity(info))) excluded.push(path);
      if (state.seen.has(identity(info)) || state.excluded.has(identity(info))) continue;
      state.seen.add(identity(info));
      await walk(path, state, true);
    } else if (!state.seen.has(identity(info))) {
      state.seen.add(identity(info));
      state.files.push(path);
    }
  }
  return { files: state.files, missing: state.missing, excluded, skipped: state.skipped };
}

/**
 * A file system error met reading a listed input, as the file's line reports it: removed (or
 * renamed) since it was listed is NOT_FOUND, as the listing says of a missing path, not ENOENT;
 * any other keeps its errno code, with Node's message without the code and path it repeats.
 */
function inputReadError(error: NodeJS.ErrnoException): never {
  if (error.code === 'ENOENT') throw inputFileError(removedSinceListed.code, removedSinceListed.message);
  if (typeof error.code !== 'string') throw error;
  const found = fileSystemProblem('', error, removedSinceListed.message);
  throw inputFileError(found.code, found.message);
}

/**
 * What `explain` and `demo` check of a listed input before reading it, from its stat: a regular
 * file (a FIFO would block the read for ever, a device might never end it) within the encoded-size
 * limit (a huge file would be read whole before being refused). Throws an error whose `code` the
 * file's line reports: NOT_FOUND, NOT_A_FILE, IMAGE_TOO_LARGE, or an errno code (EACCES, EIO…).
 */
export async function checkInputFile(file: string): Promise<Stats> {
  return checkedRegularFile(await stat(file).catch(inputReadError), defaultImageLimits.maxInputBytes);
}

/** A listed input's bytes, with {@link checkInputFile}'s checks and errors (see readRegularFile). */
export function readInputFile(file: string): Promise<Buffer> {
  return readRegularFile(file, defaultImageLimits.maxInputBytes);
}

function checkedRegularFile(info: Stats, limit: number): Stats {
  if (!info.isFile()) throw inputFileError('NOT_A_FILE', 'not a regular file (a FIFO, socket or device is never read)');
  if (info.size > limit) throw tooLarge(`${info.size} bytes`, limit);
  return info;
}

const tooLarge = (size: string, limit: number) =>
  new ImagingError('IMAGE_TOO_LARGE', `image is ${size}, over the ${limit}-byte limit; send a smaller or more compressed file`);

/**
 * A regular file's bytes, at most `limit` of them, with {@link checkInputFile}'s errors. The checks
 * are made on the opened file, not on its path: a path checked and then opened may name another
 * file by then (replaced by a FIFO, whose open would block for ever; grown past the limit). So it
 * is opened non-blocking (a FIFO's open returns at once, to be refused by its fstat) and read only
 * up to the limit (a file growing meanwhile is refused, not read whole).
 */
async function readRegularFile(file: string, limit: number): Promise<Buffer> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK).catch(inputReadError);
  try {
    const expected = checkedRegularFile(await handle.stat().catch(inputReadError), limit).size;
    const chunks: Buffer[] = [];
    let total = 0;
    // One byte past the size fstat gave tells a file that grew from one that ends there.
    for (let chunk = Buffer.alloc(expected + 1); ; chunk = Buffer.alloc(64 * 1024)) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null).catch(inputReadError);
      if (bytesRead === 0) return Buffer.concat(chunks, total);
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw tooLarge(`over ${limit} bytes (it grew while being read)`, limit);
    }
  } finally {
    await handle.close();
  }
}
