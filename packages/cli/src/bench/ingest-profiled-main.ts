/**
 * The ingest service under V8's sampling profiler, for `bench:pipeline --ingest-cpu-prof DIR`.
 * Node 20 refuses --cpu-prof in NODE_OPTIONS and startService passes no node flags, so the
 * profiler runs from inside: armed before ingest's main module loads, started on SIGUSR2 (when
 * the timed window begins, so start-up and warm-up stay out of it) and written when the process
 * exits. Started by ingest-rig.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../local-stack/service-process.ts';

// A benchmark-harness variable, set by ingest-rig.ts only: the service's own config never sees it.
const profileFile = process.env['GRADCAM_BENCH_CPU_PROFILE'];
if (!profileFile) throw new Error('GRADCAM_BENCH_CPU_PROFILE must name the profile file (this entry is started by bench:pipeline)');

const session = new Session();
session.connect();
session.post('Profiler.enable');
let started = false;
process.on('SIGUSR2', () => {
  if (started) return;
  started = true;
  session.post('Profiler.start');
});
// The in-process inspector answers synchronously, so the profile is written even on process.exit().
process.on('exit', () => {
  if (!started) return;
  session.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(profileFile, JSON.stringify(result.profile));
  });
});

await import(pathToFileURL(join(repoRoot, 'services/ingest/src/main.ts')).href);
