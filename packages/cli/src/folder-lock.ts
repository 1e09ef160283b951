import { lstat, readFile, rm } from 'node:fs/promises';
import { holderRuns, ownLockText } from './local-stack/process-identity.ts';
import { type LockSnapshot, createLockFile, lockStale, removeStaleLock } from './local-stack/lock-file.ts';

/** The holder named in the lock no longer runs (killed, or its pid since taken by another process); one naming none is held a while. */
const stale = (lock: LockSnapshot) => lockStale(lock, (holder) => holderRuns(holder) === false);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface FolderLockOptions {
  /** How long to wait for a live holder before giving up. Default 60 s. */
  readonly waitMs?: number;
  /** Called when the lock file's folder is missing (removed by a run that failed there): make it again. */
  readonly remake?: () => Promise<void>;
}

/** Another process held the lock for the whole wait. */
export class FolderLockBusyError extends Error {
  readonly code = 'OUTPUT_BUSY';
}

/** The lock path holds something this lock never writes, or what it cannot read: nothing here can tell whether its holder runs. */
export class FolderLockUnusableError extends Error {
  readonly code = 'OUTPUT_LOCK_UNUSABLE';
}

/**
 * The lock file's text and time, or undefined when it is gone (released since). Only a regular
 * file that can be read: a directory, a link (one leading nowhere too) or a file of another user's
 * that this one may not read would never read the same twice, so it could neither be waited for nor
 * taken over, and the loop would spin on it for ever; a FIFO would block the read.
 */
async function readLock(file: string): Promise<LockSnapshot | undefined> {
  const unusable = (why: string) => new FolderLockUnusableError(`the lock ${file} ${why}; remove it if no gradcam explain writes there now`);
  const info = await lstat(file).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    if (info.code === 'ENOENT') return undefined;
    throw unusable(`cannot be read (${info.code ?? info.message})`);
  }
  if (!info.isFile()) throw unusable(`is not a file (${info.isDirectory() ? 'a folder' : info.isSymbolicLink() ? 'a symbolic link' : 'a special file'})`);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw unusable(`cannot be read (${error.code ?? error.message})`);
  });
  return text === undefined ? undefined : { text, mtimeMs: info.mtimeMs };
}

/**
 * Runs `body` holding the lock file `file` (created exclusively, naming this process), so that two
 * processes writing one folder take turns. A lock whose process no longer runs (killed, SIGKILL,
 * a reboot) is taken over; a live holder is waited for up to `waitMs`, then FolderLockBusyError.
 */
export async function withFolderLock<T>(file: string, body: () => Promise<T>, options: FolderLockOptions = {}): Promise<T> {
  const text = ownLockText();
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  let holder = '';
  for (let wait = 5; ; wait = Math.min(100, wait * 2)) {
    try {
      await createLockFile(file, text);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && options.remake) {
        await options.remake();
        continue;
      }
      if (code !== 'EEXIST') throw error;
    }
    const current = await readLock(file);
    // Released between the create and the read: create again.
    if (current === undefined) continue;
    holder = current.text;
    if (stale(current)) {
      // Only a stale lock: one that another taker has already put in its place stays.
      if ((await removeStaleLock(file, stale)) !== 'held') continue;
    }
    if (Date.now() > deadline) {
      throw new FolderLockBusyError(`another process (pid ${holder.split('\n')[0]}) has been writing here for over ${Math.round((options.waitMs ?? 60_000) / 1000)} s (${file})`);
    }
    await sleep(wait);
  }
  try {
    return await body();
  } finally {
    // Only while it is still this process's (never one that another process took over meanwhile).
    if ((await readFile(file, 'utf8').catch(() => undefined)) === text) await rm(file, { force: true });
  }
}
