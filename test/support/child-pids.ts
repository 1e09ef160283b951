import { readFileSync, readdirSync } from 'node:fs';

/** The pids whose parent is `parent`, read from /proc (Linux), live or not yet reaped. */
export function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state, ppid, …
      const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent) children.push(Number(entry));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return children.sort((a, b) => a - b);
}
