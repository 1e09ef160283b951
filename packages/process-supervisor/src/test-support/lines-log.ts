import type { SupervisorLog } from '../process-supervisor.ts';

export type LogLevel = keyof SupervisorLog;

/** A SupervisorLog handing each line, with its level, to `onLine`: the tests read what an operator would. */
export function linesLog(onLine: (message: string, level: LogLevel) => unknown): SupervisorLog {
  return { info: (m) => void onLine(m, 'info'), warn: (m) => void onLine(m, 'warn'), error: (m) => void onLine(m, 'error') };
}

export const silentLog: SupervisorLog = linesLog(() => undefined);
