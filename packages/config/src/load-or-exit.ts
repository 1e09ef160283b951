import { ConfigError } from './config-error.ts';
import type { Env } from './env-reader.ts';

/**
 * Exit status of a process refusing its configuration (EX_CONFIG, from sysexits.h): a start that
 * every retry would repeat. Supervisors and the local stack read it that way.
 */
export const configErrorExitCode = 78;

/**
 * The one place that reads `process.env`: parses it once at boot; a bad or missing variable
 * stops the process with one line naming it (configErrorExitCode).
 */
export function loadConfigOrExit<T>(read: (env: Env) => T, service: string): T {
  try {
    return read(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitOnConfigError(service, error);
  }
}

/**
 * Stops the process with the one line a configuration error is told in (configErrorExitCode):
 * for one found after the start too, such as a REDIS_URL that turns out to be a Redis Cluster node.
 */
export function exitOnConfigError(service: string, error: ConfigError): never {
  process.stderr.write(`${service}: configuration error: ${error.message}\n`);
  process.exit(configErrorExitCode);
}
