import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

export const imageExtensions = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif']);

export interface InputListing {
  readonly files: string[];
  /** Paths that do not exist, with the reason. */
  readonly missing: { path: string; reason: string }[];
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, out);
    else if (entry.isFile() && imageExtensions.has(extname(entry.name).toLowerCase())) out.push(path);
  }
}

/**
 * Files named on the command line are taken as they are (a wrong one gets its own error line
 * later); folders are walked recursively for image extensions, in a stable order.
 */
export async function listInputFiles(paths: readonly string[]): Promise<InputListing> {
  const files: string[] = [];
  const missing: { path: string; reason: string }[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) missing.push({ path, reason: info.code === 'ENOENT' ? 'no such file or folder' : info.message });
    else if (info.isDirectory()) await walk(path, files);
    else files.push(path);
  }
  return { files: [...new Set(files)], missing };
}
