import { readFileSync, readdirSync } from 'node:fs';

/** Linux reports /proc/<pid>/stat times in USER_HZ ticks, 100 per second (as cpu-contention.ts). */
const ticksPerSecond = 100;

interface ProcessSample {
  readonly ppid: number;
  readonly label: string;
  readonly cpuSeconds: number;
}

/** Names our processes by role: the stack's services are all `node … services/<name>/src/main.ts`. */
function labelOf(pid: number, comm: string): string {
  if (pid === process.pid) return 'bench';
  // The `sh` each service runs under (spawnLeashed), whose command line names the service too.
  if (comm === 'sh') return 'leash';
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return comm;
  }
  const service = /services\/([\w-]+)\/src\/main\.ts(?:\s+(\d+))?/.exec(cmdline);
  if (service) {
    // The worker supervisor forks itself with the process index as its argument.
    if (service[1] === 'worker') return service[2] === undefined ? 'worker' : `worker-${service[2]}`;
    return service[1] as string;
  }
  if (/throughput-worker\.ts/.test(cmdline)) return 'engine-bench';
  return comm;
}

function readAll(): Map<number, ProcessSample> {
  const processes = new Map<number, ProcessSample>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return processes;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // After the name: state(3) ppid(4) … utime(14) stime(15), numbered as in proc(5).
      const ppid = Number(fields[1]);
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
      processes.set(pid, { ppid, label: comm, cpuSeconds });
    } catch {
      // The process ended between readdir and read.
    }
  }
  return processes;
}

/** CPU seconds used so far by this process and every descendant, by pid (empty off Linux). */
function treeSnapshot(): Map<number, ProcessSample> {
  const all = readAll();
  const tree = new Map<number, ProcessSample>();
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid, hops = 0; at !== undefined && at > 1 && hops < 64; hops++) {
      if (at === process.pid) return true;
      at = all.get(at)?.ppid;
    }
    return false;
  };
  for (const [pid, sample] of all) {
    if (inTree(pid)) tree.set(pid, { ...sample, label: labelOf(pid, sample.label) });
  }
  return tree;
}

/** Pids of every process this one started, directly or not (for the last-resort cleanup). */
export function descendantPids(): number[] {
  return [...treeSnapshot().keys()].filter((pid) => pid !== process.pid);
}

export interface TreeCpuUsage {
  readonly seconds: number;
  /** Cores used on average over the window, by role (bench, ingest, worker-0, redis-server, …). */
  readonly coresByLabel: Readonly<Record<string, number>>;
  /** CPU seconds of our descendants only (this process is counted by CpuContention itself). */
  readonly descendantCpuSeconds: number;
}

/** CPU used by the tree between two snapshots, per role. */
function usageBetween(start: Map<number, ProcessSample>, end: Map<number, ProcessSample>, seconds: number): TreeCpuUsage {
  const byLabel: Record<string, number> = {};
  let descendantCpuSeconds = 0;
  for (const [pid, sample] of end) {
    const used = sample.cpuSeconds - (start.get(pid)?.cpuSeconds ?? 0);
    byLabel[sample.label] = (byLabel[sample.label] ?? 0) + used / seconds;
    if (pid !== process.pid) descendantCpuSeconds += used;
  }
  return { seconds, coresByLabel: byLabel, descendantCpuSeconds };
}

/**
 * CPU used by this process tree over a window, per role: says which of the stack's processes
 * took the cores (and lets CpuContention count the rest as "others"). A process that exits inside
 * the window loses its ticks, so windows end before anything is stopped.
 */
export class TreeCpuMeter {
  private readonly startAt = performance.now();
  private readonly start = treeSnapshot();

  read(): TreeCpuUsage {
    return usageBetween(this.start, treeSnapshot(), (performance.now() - this.startAt) / 1000);
  }
}

interface TimedSnapshot {
  /** Epoch ms, the clock the workers stamp their job results with. */
  readonly at: number;
  readonly tree: Map<number, ProcessSample>;
}

/** The tree's CPU between two of the timeline's samples. */
export interface TreeCpuSpan {
  /** Epoch ms of the two samples. */
  readonly from: number;
  readonly to: number;
  readonly usage: TreeCpuUsage;
}

/**
 * The tree's CPU sampled every `intervalMs` while a part runs, so that a window known only
 * afterwards (the steady window, bounded by job timestamps) can be costed on its own. Costing the
 * whole run instead puts the warm-up batches and the drain's idle tail into CPU per explanation,
 * while the engine-only figure it is compared with covers a steady timed window.
 */
export class TreeCpuTimeline {
  private readonly samples: TimedSnapshot[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 250) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.samples.push({ at: Date.now(), tree: treeSnapshot() });
  }

  /** Takes a last sample and stops sampling. */
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /** From the first sample to the last (after stop(): the whole part). */
  whole(): TreeCpuUsage {
    const first = this.samples[0] as TimedSnapshot;
    const last = this.samples[this.samples.length - 1] as TimedSnapshot;
    return usageBetween(first.tree, last.tree, Math.max(1, last.at - first.at) / 1000);
  }

  /**
   * From the first sample at or after `from` to the last at or before `to` (epoch ms), so the span
   * lies inside the window; undefined when no two samples do.
   */
  within(from: number, to: number): TreeCpuSpan | undefined {
    const first = this.samples.find((s) => s.at >= from);
    const last = this.samples.findLast((s) => s.at <= to);
    if (first === undefined || last === undefined || last.at <= first.at) return undefined;
    return { from: first.at, to: last.at, usage: usageBetween(first.tree, last.tree, (last.at - first.at) / 1000) };
  }
}
