import { type DestinationStream, type Level, type Logger, pino } from 'pino';

export type { Logger } from 'pino';
export type LogLevel = Level | 'silent';

export interface LoggerOptions {
  /** The service or component, on every line as `name`. */
  readonly name: string;
  /** Passed in (only packages/config reads the environment). */
  readonly level: LogLevel;
  /** Where lines go; stdout when omitted (tests pass a stream to read them back). */
  readonly destination?: DestinationStream;
}

/**
 * JSON lines to stdout, one object per event, for the container runtime to collect. Errors go
 * under `err` (pino serialises message, stack and code). Times are ISO-8601 so a human reading
 * raw logs needs no converter.
 */
export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    name: options.name,
    level: options.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Image bytes sent inline must not reach the logs when a record or job is logged whole.
    redact: { paths: ['image.base64', '*.image.base64', '*[*].image.base64'], censor: '[redacted]' },
  };
  // pino's own default destination is a synchronous stdout writer: no line lost on a crash.
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
