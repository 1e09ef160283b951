// Preloaded with NODE_OPTIONS="--import <this file>": every process whose entry script matches
// PROF_MATCH (default: the ingest service and the benchmark) prints to stderr each garbage
// collection longer than STALL_GC_MS (default 8) and each event-loop turn that ran STALL_GAP_MS
// (default 30) late, stamped with the wall clock, so stalls in several processes line up.
import { PerformanceObserver } from 'node:perf_hooks';

if (new RegExp(process.env.PROF_MATCH ?? '(ingest/src/main|pipeline-bench-main)\\.ts$').test(process.argv[1] ?? '')) {
  const gcMs = Number(process.env.STALL_GC_MS ?? 8);
  const gapMs = Number(process.env.STALL_GAP_MS ?? 30);
  const stamp = () => new Date().toISOString().slice(11, 23);
  const kinds = { 1: 'scavenge', 2: 'minor mark-compact', 4: 'mark-compact', 8: 'incremental marking', 16: 'weak callbacks' };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.duration > gcMs) console.error(`stall ${stamp()} pid ${process.pid} gc ${kinds[entry.detail?.kind] ?? entry.detail?.kind} ${entry.duration.toFixed(1)} ms`);
    }
  }).observe({ entryTypes: ['gc'] });
  const tickMs = 10;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last - tickMs > gapMs) console.error(`stall ${stamp()} pid ${process.pid} event loop ${(now - last - tickMs).toFixed(0)} ms late`);
    last = now;
  }, tickMs).unref();
}
