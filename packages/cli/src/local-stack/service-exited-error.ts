import { configErrorExitCode } from '@gradcam/config';

/**
 * A service of the local stack exited on its own: before it was ready, or after start-up while
 * the stack was running. The message is one line with the service's last error line, which for
 * a configuration error (exit 78) names the variable.
 */
export class ServiceExitedError extends Error {
  readonly code = 'SERVICE_EXITED';
  readonly service: string;
  /** 'code N' or the signal's name, as ServiceProcess.exited reports it. */
  readonly exit: string;
  readonly when: 'before it was ready' | 'while the stack was starting' | 'after start-up';
  readonly lastErrorLine: string | undefined;

  constructor(
    service: string,
    exit: string,
    when: 'before it was ready' | 'while the stack was starting' | 'after start-up',
    lastErrorLine: string | undefined,
  ) {
    const why = exit === `code ${configErrorExitCode}` ? `${exit}, a configuration error` : exit;
    super(`${service} exited (${why}) ${when}${lastErrorLine === undefined ? '' : `: ${lastErrorLine}`}`);
    this.service = service;
    this.exit = exit;
    this.when = when;
    this.lastErrorLine = lastErrorLine;
    this.name = 'ServiceExitedError';
  }

  get configurationError(): boolean {
    return this.exit === `code ${configErrorExitCode}`;
  }
}
