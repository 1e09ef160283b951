import { existsSync, readFileSync } from 'node:fs';

/**
 * Whether `pid` is running, as seen through `procRoot`: where it is mounted (Linux), the process
 * exists and is not a zombie waiting for its parent to reap it (`process.kill(pid, 0)` succeeds
 * for a zombie, so it cannot tell a process that exited under a dead parent from one that lives
 * on); where there is no /proc (macOS), signal 0 says, EPERM (another user's process) counting as
 * running.
 */
export function processRunningIn(procRoot: string, pid: number): boolean {
  if (existsSync(`${procRoot}/self`)) {
    try {
      const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state first.
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is running (not a zombie, where /proc can tell). */
export function processRunning(pid: number): boolean {
  return processRunningIn('/proc', pid);
}
