import type { ServerErrorReport } from './api-error.ts';
import { LogThrottle } from './log-throttle.ts';

/** The levels a service logger (pino's shape) is called at for 5xx answers. */
export interface ServerErrorLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/**
 * What kind of failure `error` is, to tell one outage from another without the words that differ
 * from one request to the next (keys, ids, hosts): its deepest cause's class and code, or, without
 * a code, the first word of its message (Redis's READONLY, WRONGTYPE, NOAUTH…).
 */
export function failureKind(error: unknown): string {
  let root = error;
  for (let depth = 0; depth < 8 && root instanceof Error && root.cause !== undefined; depth++) root = root.cause;
  if (!(root instanceof Error)) return typeof root;
  const code = (root as { code?: unknown }).code;
  return `${root.name}: ${typeof code === 'string' || typeof code === 'number' ? code : (root.message.split(/\s/, 1)[0] ?? '')}`;
}

/** Sets kept before the oldest is forgotten: distinct failure kinds, and requests whose 500s were logged. */
const remembered = 256;

/**
 * Logs a service's 5xx answers.
 *
 * - A 500: the whole error, once per request and kind of failure (a batch whose thousand records
 *   fail alike names one request id; the log has the error under it once).
 * - A 503 (a dependency down, answered to every request through an outage): one debug line each
 *   (its request id and the kind of failure), and a warning with the whole error for the first of
 *   each code and kind, then one a minute (LogThrottle) with the count left untold. A new kind of
 *   failure (ECONNREFUSED turning into READONLY after a failover) is told at once.
 */
export function logServerErrors(log: ServerErrorLog, everyMs?: number): ServerErrorReport {
  const throttles = new Map<string, LogThrottle>();
  const told500 = new Set<string>();
  return (error, requestId, answer) => {
    const kind = failureKind(error);
    if (answer.status !== 503) {
      const key = `${requestId}\n${answer.code}\n${kind}`;
      if (told500.has(key)) return;
      told500.add(key);
      if (told500.size > remembered) told500.delete(told500.values().next().value as string);
      return log.error({ err: error, requestId }, `request failed with ${answer.status} ${answer.code}`);
    }
    log.debug({ requestId, code: answer.code, kind }, `request answered 503 ${answer.code} (${kind})`);
    const key = `${answer.code}\n${kind}`;
    let throttle = throttles.get(key);
    if (!throttle) {
      if (throttles.size >= remembered) throttles.clear();
      throttles.set(key, (throttle = new LogThrottle(everyMs)));
    }
    const untold = throttle.admit(key);
    if (untold === undefined) return;
    log.warn({ err: error, requestId, kind, ...(untold > 0 && { untold }) }, `request answered 503 ${answer.code} (${kind})${untold > 0 ? `, and ${untold} more like it since the last told, at debug level only` : ''}`);
  };
}
