import { execFileSync, spawnSync } from 'node:child_process';
import { BenchArgsError } from './bench-args.ts';

/**
 * CPUs given to the process under test (Linux `taskset`), so "ingest on 2 cores" means those two
 * cores, with the load generator kept off them where the machine has others.
 */
export interface CpuPinning {
  /** Sorted CPU numbers for the service and its Redis. */
  readonly serviceCpus: readonly number[];
  /** The CPUs left to the benchmark process itself: empty when the machine has no others. */
  readonly generatorCpus: readonly number[];
}

/** `0,1` or `0-3,8`: taskset's list syntax, checked against the CPUs this process may use. */
export function parseCpuPinning(list: string): CpuPinning {
  if (process.platform !== 'linux') throw new BenchArgsError('--ingest-cpus needs Linux (taskset)');
  if (spawnSync('taskset', ['--version']).error) throw new BenchArgsError('--ingest-cpus needs taskset on PATH (Debian: apt-get install -y util-linux)');
  const cpus = new Set(parseCpuList(list));
  const allowed = ownCpus();
  const outside = [...cpus].filter((cpu) => !allowed.includes(cpu));
  if (outside.length > 0) throw new BenchArgsError(`--ingest-cpus: CPU ${outside.join(', ')} not available here (this process may use ${allowed.join(',')})`);
  return { serviceCpus: [...cpus].sort((a, b) => a - b), generatorCpus: allowed.filter((cpu) => !cpus.has(cpu)) };
}

/** The CPU numbers of a taskset list (`0,1`, `0-3,8`); throws BenchArgsError naming a bad part. */
function parseCpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!range) throw new BenchArgsError(`--ingest-cpus: "${part}" is not a CPU number or range (e.g. 0,1 or 0-3)`);
    const first = Number(range[1]);
    const last = Number(range[2] ?? range[1]);
    if (last < first) throw new BenchArgsError(`--ingest-cpus: "${part}" runs backwards`);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  });
}

/** The CPUs this process may run on, from `taskset -p` (e.g. "current affinity list: 0-3,8"). */
function ownCpus(): number[] {
  const text = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  return parseCpuList(text.slice(text.lastIndexOf(':') + 1));
}

/** The command prefix that starts a child on the service's CPUs. */
export const pinnedLaunch = (pinning: CpuPinning): readonly string[] => ['taskset', '-c', pinning.serviceCpus.join(',')];

/** Moves every thread of this process (the load generator) to the other CPUs, where there are any. */
export function pinGenerator(pinning: CpuPinning): void {
  if (pinning.generatorCpus.length > 0) execFileSync('taskset', ['-a', '-c', '-p', pinning.generatorCpus.join(','), String(process.pid)], { stdio: 'ignore' });
}
