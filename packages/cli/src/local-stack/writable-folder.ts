import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '@gradcam/config';

/**
 * `dir` (and `subfolders` in it) created if need be, and checked to be a folder this process can
 * write, before anything of the stack starts: a path that can never be one (a file in its way,
 * `/dev/null/store`, a read-only mount) is a ConfigError naming `variable` now, not a stack that
 * reports itself up and then fails every upload. Resolves with the outermost folder it made for
 * `dir` (`dir` or a parent of it), undefined when `dir` was there: what to remove to leave no trace.
 */
export async function makeWritableFolder(variable: string, dir: string, subfolders: readonly string[] = []): Promise<string | undefined> {
  try {
    const made = await makeFolders(resolve(dir));
    for (const sub of subfolders) await makeFolders(resolve(dir, sub));
    await access(dir, constants.W_OK | constants.X_OK);
    return made;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new ConfigError(variable, `${dir} is a file, or a file is in its way; point it at a folder`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new ConfigError(variable, `${dir} is not writable (${code}); point it at a folder this user can write`);
    throw new ConfigError(variable, `${dir} cannot be created (${code ?? (error as Error).message}); point it at a folder`);
  }
}

/**
 * `mkdir -p`, a level at a time; resolves with the outermost folder it made. Node's `mkdir(path, { recursive: true })` never settles when a
 * folder's mkdir fails ENOENT under a parent that exists (anywhere in /proc): it makes the parent
 * (EEXIST), tries the folder again, and so on for ever, spinning a core and keeping the event loop
 * alive. Here a folder is tried once more after its parent was made, and that answer is final.
 */
async function makeFolders(path: string): Promise<string | undefined> {
  try {
    await mkdir(path);
    return path;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await isFolder(path))) return undefined;
    if (code !== 'ENOENT' || dirname(path) === path) throw error;
  }
  const madeAbove = await makeFolders(dirname(path));
  try {
    await mkdir(path);
  } catch (error) {
    // Made meanwhile by another process: as good as made here, but not this process's to remove.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await isFolder(path))) throw error;
    return madeAbove;
  }
  return madeAbove ?? path;
}

const isFolder = (path: string): Promise<boolean> => stat(path).then((info) => info.isDirectory(), () => false);
