import { readFileSync } from 'node:fs';

/** Linux reports /proc/stat in USER_HZ ticks, 100 per second on every mainstream kernel config. */
const ticksPerSecond = 100;

export interface CpuSnapshot {
  readonly at: number;
  /** Busy seconds of the whole machine, all cores, or undefined where /proc/stat is unreadable. */
  readonly machineBusy: number | undefined;
  /**
   * The cores that busy time is summed over: /proc/stat's `cpuN` lines. Not
   * availableParallelism(), which counts only the CPUs this process may run on and so shrinks
   * once `--ingest-cpus` pins the benchmark, inflating the share.
   */
  readonly machineCores: number;
  /** This process's own CPU seconds. */
  readonly own: number;
}

/** The machine's busy seconds over all cores, and how many cores; undefined where /proc/stat is unreadable. */
export function machineBusy(stat: string): { readonly seconds: number; readonly cores: number } | undefined {
  const lines = stat.split('\n');
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
  const cores = lines.filter((line) => /^cpu\d+\s/.test(line)).length;
  return Number.isFinite(busy) && cores > 0 ? { seconds: busy / ticksPerSecond, cores } : undefined;
}

export function cpuSnapshot(): CpuSnapshot {
  const { user, system } = process.cpuUsage();
  let machine: ReturnType<typeof machineBusy>;
  try {
    machine = machineBusy(readFileSync('/proc/stat', 'utf8'));
  } catch {
    machine = undefined;
  }
  return { at: performance.now(), machineBusy: machine?.seconds, machineCores: machine?.cores ?? 0, own: (user + system) / 1e6 };
}

/** Share of all the machine's cores that processes other than ours kept busy between two snapshots. */
export function otherShareBetween(start: CpuSnapshot, end: CpuSnapshot, oursElsewhere: number): number | undefined {
  if (end.machineBusy === undefined || start.machineBusy === undefined || end.machineCores === 0) return undefined;
  const wall = (end.at - start.at) / 1000;
  const others = end.machineBusy - start.machineBusy - (end.own - start.own) - oursElsewhere;
  return Math.min(1, Math.max(0, others / (wall * end.machineCores)));
}

/**
 * How much CPU other processes took while we measured, as a share of the whole machine (0…1):
 * another test run or benchmark on the same cores slows every figure, and this says so per row.
 */
export class CpuContention {
  private readonly start = cpuSnapshot();

  /**
   * Share of all cores busy with other processes since construction; undefined off Linux.
   * `oursElsewhere`: CPU seconds our own children used in the window, which are not "others".
   */
  otherShare(oursElsewhere = 0): number | undefined {
    return otherShareBetween(this.start, cpuSnapshot(), oursElsewhere);
  }
}
