// Preloaded with NODE_OPTIONS="--import <this file>": every process whose entry script matches
// PROF_MATCH (default: the ingest service) samples what it allocates with V8's sampling heap
// profiler, from PROF_DELAY_MS after start (default 0: skip start-up with e.g. 6000), and writes
// PROF_DIR/h-<pid>.heapprofile when it exits, with the seconds it sampled in h-<pid>.json.
// Objects later collected count too: the profile is what the process allocated, which is what its
// garbage collector pays for.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

if (new RegExp(process.env.PROF_MATCH ?? 'ingest/src/main\\.ts$').test(process.argv[1] ?? '')) {
  const session = new Session();
  session.connect();
  const options = { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
  let started;
  setTimeout(() => session.post('HeapProfiler.startSampling', options, () => (started = performance.now())), Number(process.env.PROF_DELAY_MS ?? 0)).unref();
  process.on('exit', () => {
    if (started === undefined) return;
    const file = `${process.env.PROF_DIR ?? '/tmp'}/h-${process.pid}`;
    // A main-thread session answers synchronously, so the profile is written before the exit.
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error) return;
      writeFileSync(`${file}.heapprofile`, JSON.stringify(result.profile));
      writeFileSync(`${file}.json`, JSON.stringify({ seconds: (performance.now() - started) / 1000 }));
    });
  });
}
