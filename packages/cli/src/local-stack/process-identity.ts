import { readFileSync } from 'node:fs';

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
