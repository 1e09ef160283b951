export { announceReady, reportNotReady } from './announce-ready.ts';
export { exitWithSupervisor } from './exit-with-supervisor.ts';
export { forkClusterProcess } from './fork-cluster-process.ts';
export { ProcessSupervisor, type ProcessExit, type RestartReason, type StopResult, type SupervisorLog, type SupervisorOptions, restartReasons } from './process-supervisor.ts';
