import { readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { extname, join } from 'node:path';

export const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

export interface InputListing {
  readonly files: string[];
  /** Paths that do not exist (or links that lead nowhere), with the reason. */
  readonly missing: { path: string; reason: string }[];
  /** Paths named that are an excluded folder (`explain --out`), left out whole. */
  readonly excluded: string[];
}

const isImageName = (name: string) => imageExtensions.has(extname(name).toLowerCase());
/** Device + inode: the same folder or file reached by two paths (a symbolic link) is one. */
const identity = (info: Stats) => `${info.dev}:${info.ino}`;

interface Walk {
  readonly files: string[];
  readonly missing: { path: string; reason: string }[];
  /** Folders walked and files listed, by identity: a link loop ends, a linked image is listed once. */
  readonly seen: Set<string>;
  /** Folders never walked, by identity (the output folder). */
  readonly excluded: Set<string>;
}

export interface ListInputOptions {
  /**
   * Folders left out wherever they are met: `explain --out` inside an input folder, whose overlays
   * a walk would otherwise take for inputs and explain again on every run. Missing ones are ignored.
   */
  readonly exclude?: readonly string[];
}

async function walk(dir: string, state: Walk): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (!entry.isDirectory() && !entry.isFile() && !entry.isSymbolicLink()) continue;
    // stat follows symbolic links, to images and to folders alike.
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      if (isImageName(entry.name)) state.missing.push({ path, reason: info.code === 'ENOENT' ? 'broken symbolic link' : info.message });
      continue;
    }
    if (state.seen.has(identity(info))) continue;
    if (info.isDirectory()) {
      if (state.excluded.has(identity(info))) continue;
      state.seen.add(identity(info));
      await walk(path, state);
    } else if (info.isFile() && isImageName(entry.name)) {
      state.seen.add(identity(info));
      state.files.push(path);
    }
  }
}

/**
 * Files named on the command line are taken as they are (a wrong one gets its own error line
 * later); folders are walked recursively for image extensions, in a stable order, following
 * symbolic links (each folder and file once, so a link loop ends).
 */
export async function listInputFiles(paths: readonly string[], options: ListInputOptions = {}): Promise<InputListing> {
  const state: Walk = { files: [], missing: [], seen: new Set(), excluded: new Set() };
  const excluded: string[] = [];
  // By identity, so a path spelt differently or reached through a link is still the same folder.
  for (const path of options.exclude ?? []) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) state.excluded.add(identity(info));
  }
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) state.missing.push({ path, reason: info.code === 'ENOENT' ? 'no such file or folder' : info.message });
    else if (info.isDirectory()) {
      if (state.excluded.has(identity(info))) excluded.push(path);
      if (state.seen.has(identity(info)) || state.excluded.has(identity(info))) continue;
      state.seen.add(identity(info));
      await walk(path, state);
    } else if (!state.seen.has(identity(info))) {
      state.seen.add(identity(info));
      state.files.push(path);
    }
  }
  return { files: state.files, missing: state.missing, excluded };
}
