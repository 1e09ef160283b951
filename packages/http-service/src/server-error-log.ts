import { type ServerErrorReport, withheldCause } from './api-error.ts';
import { LogThrottle } from './log-throttle.ts';

/** The levels a service logger (pino's shape) is called at for 5xx answers. */
export interface ServerErrorLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/**
 * What kind of failure `error` is, to tell one outage from another without the words that differ
 * from one request to the next (keys, ids, hosts, paths): its deepest cause's class and code, or,
 * without a code, its message's first word when that is an upper-case token (Redis's READONLY,
 * WRONGTYPE, NOAUTH…).
 */
export function failureKind(error: unknown): string {
  let root = error;
  for (let depth = 0; depth < 8 && root instanceof Error && root.cause !== undefined; depth++) root = root.cause;
  const code = typeof root === 'object' && root !== null ? (root as { code?: unknown }).code : undefined;
  const coded = typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
  if (!(root instanceof Error)) return coded ?? typeof root;
  const token = /^[A-Z][A-Z0-9_]{2,}(?=\s|$)/.exec(root.message)?.[0];
  const detail = coded ?? token;
  return detail === undefined ? root.name : `${root.name}: ${detail}`;
}

/**
 * Where `error` was thrown, which tells two bugs of one kind apart: the first frame of its stack in
 * the service's own code. Not a native or dependency frame (`JSON.parse (<anonymous>)`, `node:`,
 * `node_modules`), the same for every caller; not the whole stack, whose async frames
 * (`Promise.all (index N)`) differ from one record of a batch to the next.
 */
function thrownAt(error: unknown): string {
  if (!(error instanceof Error)) return '';
  const frames = (error.stack ?? '').split('\n').map((line) => line.trim()).filter((line) => line.startsWith('at '));
  return frames.find((frame) => !/\(<anonymous>\)|\(node:|node:internal|[\\/]node_modules[\\/]/.test(frame)) ?? frames[0] ?? '';
}

/** Sets kept before the oldest is forgotten: distinct failure kinds, and requests whose 500s were logged. */
const remembered = 256;

/**
 * Logs a service's 5xx answers.
 *
 * - A 500: the whole error, once per request, kind of failure and place it was thrown (a batch
 *   whose thousand records fail alike names one request id; the log has the error under it once).
 * - A 503 that kept its cause from the client (a dependency down, answered to every request
 *   through an outage): one debug line each (its request id and the kind of failure), and a
 *   warning with the whole error for the first of each code and kind, then one a minute
 *   (LogThrottle) with the count left untold. A new kind of failure (ECONNREFUSED turning into
 *   READONLY after a failover) is told at once.
 * - Any other 503 (its answer says it all: ingest's MODELS_NOT_ANNOUNCED, workers never ready) the
 *   same way, its answer's message for the error.
 */
export function logServerErrors(log: ServerErrorLog, everyMs?: number): ServerErrorReport {
  const throttles = new Map<string, LogThrottle>();
  const told500 = new Set<string>();
  return (error, requestId, answer) => {
    const withheld = withheldCause(answer);
    const kind = withheld ? failureKind(error) : answer.code;
    if (answer.status !== 503) {
      const key = `${requestId}\n${answer.code}\n${kind}\n${thrownAt(error)}`;
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
    const cause = withheld ? { err: error } : { answer: answer.message };
    log.warn({ ...cause, requestId, kind, ...(untold > 0 && { untold }) }, `request answered 503 ${answer.code}${withheld ? ` (${kind})` : ''}${untold > 0 ? `, and ${untold} more like it since the last told, at debug level only` : ''}`);
  };
}
