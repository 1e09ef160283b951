export { ProcessSupervisor, type SupervisorOptions } from './process-supervisor.ts';
