// Preloaded with NODE_OPTIONS="--import <this file>" (Node refuses --cpu-prof there): every process
// whose entry script matches PROF_MATCH (default: the worker service) samples its main thread with
// the inspector and writes PROF_DIR/p-<pid>.cpuprofile when it exits.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

if (new RegExp(process.env.PROF_MATCH ?? 'worker/src/main\\.ts$').test(process.argv[1] ?? '')) {
  const session = new Session();
  session.connect();
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.enable');
  session.post('Profiler.start');
  process.on('exit', () => {
    // A main-thread session answers synchronously, so the profile is written before the exit.
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(`${process.env.PROF_DIR ?? '/tmp'}/p-${process.pid}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
}
