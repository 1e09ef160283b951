export { announceReady } from './announce-ready.ts';
export { exitWithSupervisor } from './exit-with-supervisor.ts';
export { ProcessSupervisor, type StopResult, type SupervisorOptions } from './process-supervisor.ts';
