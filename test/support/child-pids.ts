import { readFileSync, readdirSync } from 'node:fs';

/**
 * The pids whose parent is `parent` and whose command line contains `command`, read from /proc
 * (Linux), live or not yet reaped. The filter matters: tsx starts an esbuild helper process as a
 * child when its cache is cold, as on a fresh clone.
 */
export function childPids(parent: number, command: string): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state, ppid, …
      const [, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== parent) continue;
      // A zombie's cmdline is empty: it was one of ours if it was reaped as such, so keep it.
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline === '' || cmdline.includes(command)) children.push(Number(entry));
    } catch {
      // The process ended between readdir and read.
    }
  }
  return children.sort((a, b) => a - b);
}

/**
 * The pid of the Node process a leashed service runs as (see spawnLeashed): the leash's child
 * that runs this Node binary, not the leash's own watcher subshell, whose command line also
 * names the entry point.
 */
export function leashedNodePid(leash: number): number | undefined {
  return childPids(leash, '').find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(`${process.execPath}\0`);
    } catch {
      return false;
    }
  });
}
