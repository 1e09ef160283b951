import { fileURLToPath } from 'node:url';
import { exitWithSupervisor } from '@gradcam/process-supervisor';

// Composition root. Started without an argument, this process only supervises: it forks itself
// once per engine process (GRADCAM_WORKER_PROCESSES, one included), passing the process index as
// the argument, and serves the replica's status server for all of them. Even one engine process
// gets a supervisor: its heartbeat watchdog, its restarts in place (counted in
// gradcam_worker_engine_restarts_total, which the restart alert reads) and libuv's larger pool
// (see engineEnvironment) hold for every replica, the usual one-GPU replica included.
const indexArgument = process.argv[2];

// An engine process forked by the supervisor: watch the supervisor before anything slow. Loading
// tfjs, sharp and bullmq takes seconds, and a supervisor SIGKILLed meanwhile would otherwise leave
// this process under init, loading the model and consuming the queue. Until runEngineProcess
// replaces it with its draining shutdown there is nothing to drain: exit at once.
// The supervisor passes its pid after the index, so that one that died before this line is seen.
if (indexArgument !== undefined) exitWithSupervisor(() => process.exit(0), Number(process.argv[3]) || undefined);

// Everything else is imported here, not above, so that the watch is in place while it loads.
const { loadConfigOrExit, readWorkerConfig } = await import('@gradcam/config');
const config = loadConfigOrExit(readWorkerConfig, 'worker');

if (indexArgument === undefined) {
  const { superviseEngineProcesses } = await import('./supervise-engine-processes.ts');
  await superviseEngineProcesses(config, fileURLToPath(import.meta.url));
} else {
  const { runEngineProcess } = await import('./run-engine-process.ts');
  await runEngineProcess(config, Number(indexArgument));
}
