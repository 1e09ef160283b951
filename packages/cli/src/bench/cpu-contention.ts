import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Linux reports /proc/stat in USER_HZ ticks, 100 per second on every mainstream kernel config. */
const ticksPerSecond = 100;

interface Snapshot {
  readonly at: number;
  /** Busy seconds of the whole machine, all cores, or undefined where /proc/stat is unreadable. */
  readonly machineBusy: number | undefined;
  /** This process's own CPU seconds. */
  readonly own: number;
}

function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return Number.isFinite(busy) ? busy / ticksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

function snapshot(): Snapshot {
  const { user, system } = process.cpuUsage();
  return { at: performance.now(), machineBusy: machineBusySeconds(), own: (user + system) / 1e6 };
}

/**
 * How much CPU other processes took while we measured, as a share of the whole machine (0…1):
 * another test run or benchmark on the same cores slows every figure, and this says so per row.
 */
export class CpuContention {
  private readonly start = snapshot();

  /**
   * Share of all cores busy with other processes since construction; undefined off Linux.
   * `oursElsewhere`: CPU seconds our own children used in the window, which are not "others".
   */
  otherShare(oursElsewhere = 0): number | undefined {
    const end = snapshot();
    if (end.machineBusy === undefined || this.start.machineBusy === undefined) return undefined;
    const wall = (end.at - this.start.at) / 1000;
    const others = end.machineBusy - this.start.machineBusy - (end.own - this.start.own) - oursElsewhere;
    return Math.min(1, Math.max(0, others / (wall * availableParallelism())));
  }
}
