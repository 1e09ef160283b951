import { readFileSync } from 'node:fs';

/**
 * CPU seconds the calling thread has run so far, from Linux's per-thread scheduler statistics
 * (nanoseconds); undefined where they are not readable. Node 20 has no per-thread CPU clock
 * (process.cpuUsage counts every thread, sharp's and the I/O threads' included).
 */
export function threadCpuSeconds(): number | undefined {
  try {
    const onCpuNs = Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ', 1)[0]);
    return Number.isFinite(onCpuNs) ? onCpuNs / 1e9 : undefined;
  } catch {
    return undefined;
  }
}
