import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@gradcam/config';

/**
 * `dir` (and `subfolders` in it) created if need be, and checked to be a folder this process can
 * write, before anything of the stack starts: a path that can never be one (a file in its way,
 * `/dev/null/store`, a read-only mount) is a ConfigError naming `variable` now, not a stack that
 * reports itself up and then fails every upload.
 */
export async function makeWritableFolder(variable: string, dir: string, subfolders: readonly string[] = []): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    for (const sub of subfolders) await mkdir(join(dir, sub), { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new ConfigError(variable, `${dir} is a file, or a file is in its way; point it at a folder`);
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new ConfigError(variable, `${dir} is not writable (${code}); point it at a folder this user can write`);
    throw new ConfigError(variable, `${dir} cannot be created (${code ?? (error as Error).message}); point it at a folder`);
  }
}
