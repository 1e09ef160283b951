import { readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { type StateLock, stateLockFileName } from './state-lock.ts';

/** A folder a start made, `dir`, and the outermost folder it made for it (`dir` or a parent of it). */
export interface MadeFolder {
  readonly dir: string;
  readonly top: string;
}

/** Whether `path` lies under `folder` (not `folder` itself). */
function inside(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** `folder.dir`, then each parent up to `folder.top`. */
function chain(folder: MadeFolder): string[] {
  const dirs = [folder.dir];
  for (let at = folder.dir; at !== folder.top && dirname(at) !== at; ) dirs.push((at = dirname(at)));
  return dirs;
}

/**
 * Removes what a start refused before anything began made (`made`: its state folder, a storage
 * folder, the parents it made for them), and nothing another start uses. The moment this start's
 * lock is released, another gradcam up on the same state folder may take it and write its tokens
 * and redis/ there; a recursive removal after the release would take that start's lock and state
 * with it. So what lies under the lock goes while it is still held, the lock file last (with the
 * release); after it, only folders are removed, each with a plain rmdir: one that another start has
 * put anything in since (its lock, a state folder of its own under a parent made here, a stored
 * object) is not empty, and stays, with the folders above it.
 */
export async function removeMadeFolders(stateDir: string, made: readonly MadeFolder[], lock: StateLock): Promise<void> {
  for (const folder of made) {
    // A state folder made here holds only this start's files (tokens, redis/, storage/): no other
    // start writes in it without the lock.
    if (folder.dir === stateDir) {
      const entries = await readdir(stateDir).catch(() => []);
      for (const entry of entries) if (entry !== stateLockFileName) await rm(join(stateDir, entry), { recursive: true, force: true });
    } else if (inside(folder.dir, stateDir)) {
      // Made inside a state folder that was there (storage/): after the release, another start's.
      await rm(folder.top, { recursive: true, force: true });
    }
  }
  await lock.release();
  // Longest first: a folder's children before it. Folders inside the state folder are left even
  // when empty: from the release on they may be another start's (it makes redis/ once it holds the lock).
  const folders = [...new Set(made.filter((folder) => !inside(folder.dir, stateDir)).flatMap(chain))].sort((a, b) => b.length - a.length);
  for (const folder of folders) {
    await rmdir(folder).catch((error: NodeJS.ErrnoException) => {
      // Not empty (POSIX allows EEXIST for it too): another start's now. Gone: another refused start took it.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST' && error.code !== 'ENOENT') throw error;
    });
  }
}
