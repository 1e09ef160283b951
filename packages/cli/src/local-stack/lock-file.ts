import { randomBytes } from 'node:crypto';
import { link, lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { type LockHolder, parseLockHolder } from './process-identity.ts';

/**
 * A lock file that names no process (its maker created it and has not written its pid yet, or
 * was killed between the two) is held this long after it was last written, then taken as a
 * killed maker's. Without it, a second taker reading the lock in that gap would remove a live one.
 */
export const unnamedLockHeldMs = 5000;

/**
 * Creates `file` exclusively with `text` (EEXIST when it exists). When the text cannot be written
 * (ENOSPC: a full disk gives the file its inode, not its blocks), the file this call made goes
 * again: empty, it would hold the next taker up for {@link unnamedLockHeldMs}.
 */
export async function createLockFile(file: string, text: string, mode = 0o666): Promise<void> {
  const handle = await open(file, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    // Still this call's: a lock naming no process is held that long, so nobody took it over.
    await rm(file, { force: true });
    throw error;
  }
}

/** What a lock path held when it was read: its text, and when that was last written. */
export interface LockSnapshot {
  readonly text: string;
  readonly mtimeMs: number;
}

/**
 * Whether a lock may be taken over: one naming a process, when `holderGone` says that process no
 * longer holds it; one naming none, once older than {@link unnamedLockHeldMs}.
 */
export function lockStale(lock: LockSnapshot, holderGone: (holder: LockHolder) => boolean): boolean {
  const holder = parseLockHolder(lock.text);
  return holder === undefined ? Date.now() - lock.mtimeMs > unnamedLockHeldMs : holderGone(holder);
}

/**
 * The snapshot of the regular file at `path` (one it may not read names no process: text ''), or
 * undefined when there is none: gone, or something else (a FIFO would block the read).
 */
export async function readLockSnapshot(path: string): Promise<LockSnapshot | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return undefined;
  return { text: await readFile(path, 'utf8').catch(() => ''), mtimeMs: info.mtimeMs };
}

/**
 * What {@link removeStaleLock} did: `removed` the stale lock; found it `gone` (released, or taken
 * over by another); or found a lock still `held` in its place (another taker's, made since the
 * caller read the stale one), left there.
 */
export type StaleLockRemoval = 'removed' | 'gone' | 'held';

/**
 * Removes the lock at `file` only if what is removed is stale. Reading a lock, finding it stale and
 * removing it by name is not one step: another taker may have replaced it with its own live lock in
 * between, and the removal would take that one. So the lock is first renamed to a name of this call
 * (atomic: whatever lies at `file` then, and nothing after, is moved), and what was moved is judged
 * again: stale, it is removed; live, it is put back with link(), which never replaces a lock made
 * at `file` meanwhile.
 *
 * Left open: when a third taker creates a lock at `file` in the moment the live one is away, the
 * live one cannot go back, and both its holder and the newcomer hold the lock.
 */
export async function removeStaleLock(file: string, stale: (lock: LockSnapshot) => boolean): Promise<StaleLockRemoval> {
  const moved = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.taking-over`;
  try {
    await rename(file, moved);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  const lock = await readLockSnapshot(moved);
  if (lock !== undefined && stale(lock)) {
    await rm(moved, { force: true });
    return 'removed';
  }
  await putBack(moved, file);
  return 'held';
}

/** A live lock moved away by mistake goes back to `file`, unless another lock was made there meanwhile. */
async function putBack(moved: string, file: string): Promise<void> {
  try {
    await link(moved, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A file system without hard links (EPERM) or a folder at `moved`: rename, which may replace a
    // lock made at `file` in the last microseconds; one there already (EEXIST) is left alone.
    if (code !== 'EEXIST') {
      await rename(moved, file);
      return;
    }
  }
  await rm(moved, { force: true });
}
