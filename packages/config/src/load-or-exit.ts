import { ConfigError } from './config-error.ts';
import type { Env } from './env-reader.ts';

/**
 * The one place that reads `process.env`: parses it once at boot; a bad or missing variable
 * stops the process with one line naming it (exit code 78, EX_CONFIG).
 */
export function loadConfigOrExit<T>(read: (env: Env) => T, service: string): T {
  try {
    return read(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: configuration error: ${error.message}\n`);
    process.exit(78);
  }
}
