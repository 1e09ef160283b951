import { readFileSync } from 'node:fs';
import { processRunning } from '@gradcam/dev-services';

/**
 * When `pid` started, in clock ticks after boot (field 22 of Linux's /proc/<pid>/stat); undefined
 * where there is no /proc or the process is gone. With the pid it names one process: a pid is
 * reused, but not by a process that started at the same tick.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start at field 3.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime !== undefined && /^\d+$/.test(startTime) ? startTime : undefined;
  } catch {
    return undefined;
  }
}

/** `pid`'s arguments (Linux /proc/<pid>/cmdline); undefined where they cannot be read. */
export function processArguments(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return text === '' ? undefined : text.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/**
 * What a lock file of this CLI names (gradcam up's state lock, explain's folder locks): the pid on
 * its first line, then, where /proc tells it, `starttime <ticks>`.
 */
export interface LockHolder {
  readonly pid: number;
  /** The holder's start time (see processStartTime); absent in locks of older versions and without /proc. */
  readonly startTime: string | undefined;
}

/** The lock text naming this process. */
export function ownLockText(): string {
  const startTime = processStartTime(process.pid);
  return `${process.pid}\n${startTime === undefined ? '' : `starttime ${startTime}\n`}`;
}

/** The holder a lock text names; undefined when it names no pid (empty, cut short, not ours). */
export function parseLockHolder(text: string): LockHolder | undefined {
  const [first = '', ...rest] = text.split('\n');
  const pid = Number(first.trim());
  if (!(Number.isSafeInteger(pid) && pid > 0)) return undefined;
  const startTime = rest.map((line) => /^starttime (\d+)$/.exec(line.trim())?.[1]).find((ticks) => ticks !== undefined);
  return { pid, startTime };
}

/**
 * Whether the process a lock names still runs: false when its pid runs no process, or one that
 * started at another time (the pid was reused after a SIGKILL or a reboot); true when the start
 * times agree; undefined when only the pid can be checked and it runs (no start time recorded or
 * readable): the caller decides.
 */
export function holderRuns(holder: LockHolder): boolean | undefined {
  if (!processRunning(holder.pid)) return false;
  const startTime = processStartTime(holder.pid);
  return holder.startTime !== undefined && startTime !== undefined ? holder.startTime === startTime : undefined;
}
