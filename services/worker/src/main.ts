import { fileURLToPath } from 'node:url';
import { loadConfigOrExit, readWorkerConfig } from '@gradcam/config';
import { runEngineProcess } from './run-engine-process.ts';
import { superviseEngineProcesses } from './supervise-engine-processes.ts';

// Composition root. With GRADCAM_WORKER_PROCESSES > 1 this process only supervises: it forks
// itself once per engine process, passing the process index as the argument, and serves the
// replica's status server for all of them. With one process, that process does both.
const config = loadConfigOrExit(readWorkerConfig, 'worker');
const indexArgument = process.argv[2];

if (config.processes > 1 && indexArgument === undefined) {
  await superviseEngineProcesses(config, fileURLToPath(import.meta.url));
} else {
  await runEngineProcess(config, indexArgument === undefined ? { supervised: false } : { supervised: true, index: Number(indexArgument) });
}
