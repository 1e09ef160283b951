import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LocalStackError } from './local-stack-error.ts';
import { type LockHolder, holderRuns, ownLockText, parseLockHolder, processArguments } from './process-identity.ts';
import { type LockSnapshot, createLockFile, lockStale, readLockSnapshot, removeStaleLock } from './lock-file.ts';

/** The file in the state folder that says which process runs the stack on it. */
export const stateLockFileName = 'gradcam-up.pid';

export interface StateLock {
  /** Removes the lock file if it still names this process. Safe twice. */
  release(): Promise<void>;
}

async function lockHolder(file: string): Promise<LockHolder | undefined> {
  return parseLockHolder(await readFile(file, 'utf8').catch(() => ''));
}

/** `… gradcam up` or `… gradcam.js up`, as npm start and the bin run it. */
function looksLikeGradcamUp(args: readonly string[]): boolean {
  return args.some((arg, i) => /^gradcam(\.js)?$/.test(basename(arg)) && args[i + 1] === 'up');
}

/**
 * Whether the lock's process still runs the stack. A lock outlives its process when that process
 * is killed by SIGKILL or the machine reboots, and its pid then comes to another process: after a
 * reboot, often an unrelated one started early. The start time recorded with the pid tells them
 * apart; a lock without one (an older version's) counts only if its process looks like gradcam up.
 * Where /proc cannot say, the pid alone decides, as before.
 */
function lockHeld(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return false;
  const runs = holderRuns(holder);
  if (runs !== undefined) return runs;
  const args = processArguments(holder.pid);
  return args === undefined || looksLikeGradcamUp(args);
}

/** Whether a gradcam up runs on the state folder now (its lock's process is alive and is that gradcam up). */
export async function stackRunning(stateDir: string): Promise<boolean> {
  const holder = await lockHolder(join(stateDir, stateLockFileName));
  return holder !== undefined && lockHeld(holder);
}

/**
 * Claims the state folder for this process. Two stacks on one folder would run two redis-servers
 * on one append-only file, and each would take the other's answers for its own. A lock left by a
 * process that no longer runs (killed by SIGKILL, a reboot) is taken over.
 */
export async function acquireStateLock(stateDir: string): Promise<StateLock> {
  const file = join(stateDir, stateLockFileName);
  const stale = (lock: LockSnapshot) => lockStale(lock, (holder) => !lockHeld(holder));
  const starting = () => new LocalStackError('STACK_RUNNING', `could not claim ${file}: another gradcam up is starting on ${stateDir}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await createLockFile(file, ownLockText(), 0o644);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The folder was there when this start made or checked it, and is gone: another gradcam up,
      // refused on the same new folder, removed the empty folder it had made (removeMadeFolders).
      if (code === 'ENOENT') throw new LocalStackError('STATE_DIR_GONE', `could not claim ${file}: ${stateDir} was removed meanwhile (another gradcam up, refused on it, took away the folder it had made); run gradcam up again`);
      if (code !== 'EEXIST') throw error;
    }
    const lock = await readLockSnapshot(file);
    if (lock !== undefined && !stale(lock)) {
      const holder = parseLockHolder(lock.text);
      // One naming no process yet is a gradcam up between creating it and writing its pid.
      if (holder === undefined) throw starting();
      throw new LocalStackError('STACK_RUNNING', `another gradcam up (pid ${holder.pid}) is running on ${stateDir}: stop it first, or give this one its own GRADCAM_STATE_DIR and ports (GRADCAM_INGEST_PORT, GRADCAM_EXPORTER_PORT, GRADCAM_WORKER_METRICS_PORT, GRADCAM_REVIEW_PORT)`);
    }
    // Stale, or released since the create: claim again. Two starting together both find it stale;
    // the exclusive create lets only one of them win.
    if (attempt >= 2) throw starting();
    if (lock !== undefined) await removeStaleLock(file, stale);
  }
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        if ((await lockHolder(file))?.pid === process.pid) await rm(file, { force: true });
      })()),
  };
}
