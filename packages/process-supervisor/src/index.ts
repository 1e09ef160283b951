export { announceReady } from './announce-ready.ts';
export { exitWithSupervisor } from './exit-with-supervisor.ts';
export { ProcessSupervisor, type SupervisorOptions } from './process-supervisor.ts';
