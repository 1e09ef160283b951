import { readFileSync } from 'node:fs';

/**
 * Whether `pid` is running: it exists and is not a zombie waiting for its parent to reap it
 * (Linux /proc). `process.kill(pid, 0)` succeeds for a zombie, so it cannot tell a process that
 * exited under a dead parent from one that lives on.
 */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state first.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}
