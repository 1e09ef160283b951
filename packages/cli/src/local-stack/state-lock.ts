import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processRunning } from '@gradcam/dev-services';
import { LocalStackError } from './local-stack-error.ts';

/** The file in the state folder that says which process runs the stack on it. */
export const stateLockFileName = 'gradcam-up.pid';

export interface StateLock {
  /** Removes the lock file if it still names this process. Safe twice. */
  release(): Promise<void>;
}

async function lockHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Claims the state folder for this process. Two stacks on one folder would run two redis-servers
 * on one append-only file, and each would take the other's answers for its own. A lock left by a
 * process that no longer runs (killed by SIGKILL, a reboot) is taken over.
 */
export async function acquireStateLock(stateDir: string): Promise<StateLock> {
  const file = join(stateDir, stateLockFileName);
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockHolder(file);
    if (holder !== undefined && holder !== process.pid && processRunning(holder)) {
      throw new LocalStackError('STACK_RUNNING', `another gradcam up (pid ${holder}) is running on ${stateDir}: stop it first, or give this one its own GRADCAM_STATE_DIR and ports`);
    }
    // Stale (or unreadable): remove it and claim again. Two starting together both see it stale;
    // the exclusive create lets only one of them win the retry.
    if (attempt >= 2) throw new LocalStackError('STACK_RUNNING', `could not claim ${file}: another gradcam up is starting on ${stateDir}`);
    await rm(file, { force: true });
  }
  let released: Promise<void> | undefined;
  return {
    release: () =>
      (released ??= (async () => {
        if ((await lockHolder(file)) === process.pid) await rm(file, { force: true });
      })()),
  };
}
