import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { LogThrottle } from './log-throttle.ts';
import { NotReadyError } from './not-ready-error.ts';

export interface OperationalRoutes {
  /**
   * Throws when the process is not ready: a NotReadyError, whose message /readyz answers as the
   * reason (see checkDependency); any other error is answered `not ready` only.
   */
  readonly checkReady?: () => Promise<void>;
  /**
   * Told of checkReady's errors, for the log (/readyz tells anyone who asks, without a token, only
   * the reason): the first of a run of failures, one with another reason or underlying error, and then one every
   * `notReadyReportEveryMs` (60 s): probes every few seconds through an outage would fill the log
   * with the same stack.
   */
  readonly onNotReady?: ((error: unknown) => void) | undefined;
  readonly notReadyReportEveryMs?: number;
  /**
   * How long after the routes are registered a process that has not been ready yet is starting,
   * not failing (default 10 s): its dependencies' clients are still connecting, and a supervisor
   * polling /readyz would otherwise put a warning with a stack in every healthy start's log.
   * /readyz answers 503 as ever; a failure past this, or once the process has been ready, is told.
   */
  readonly startupGraceMs?: number;
  /**
   * Prometheus exposition of the process's registry; `headers` tell who asks (see isPrometheusScrape),
   * `answer` whether the client took the answer (see ScrapeAnswer).
   */
  readonly scrape: (headers: IncomingHttpHeaders, answer: ScrapeAnswer) => Promise<{ contentType: string; body: string }>;
}

export interface ScrapeAnswer {
  /**
   * Settles once the /metrics answer is done with: true when it was written whole to a connection
   * still open and, where the request names its scrape timeout (Prometheus's header), before that
   * timeout passed since the request came; false when the client gave up first (Prometheus closes
   * the connection at its timeout, and stores nothing of an answer after it). Never rejects.
   */
  readonly delivered: Promise<boolean>;
}

/** Whether the answer on `response` reaches the client in time: see ScrapeAnswer. */
function answerDelivered(response: ServerResponse, timeoutMs: number | undefined): Promise<boolean> {
  const receivedAt = performance.now();
  return new Promise((resolve) => {
    // 'finish': written whole; 'close' without it: the connection ended first (the client gave up).
    response.once('finish', () => resolve(timeoutMs === undefined || performance.now() - receivedAt < timeoutMs));
    response.once('close', () => resolve(false));
  });
}

/**
 * Checks one dependency for checkReady: its failure is a NotReadyError saying which one
 * (`redis: unavailable`), or what `reason` makes of the error (`storage: bucket not found`), its
 * own error the cause.
 */
export async function checkDependency(name: string, check: () => Promise<unknown>, reason: (error: unknown) => string = () => `${name}: unavailable`): Promise<void> {
  try {
    await check();
  } catch (error) {
    throw new NotReadyError(reason(error), { cause: error });
  }
}

/**
 * What every HTTP service answers to operators: /healthz (the process is up), /readyz (its
 * dependencies answer; 503 with a short reason otherwise) and /metrics.
 */
export function registerOperationalRoutes(app: FastifyInstance, routes: OperationalRoutes): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  const { checkReady } = routes;
  if (checkReady) {
    const throttle = new LogThrottle(routes.notReadyReportEveryMs);
    const startedAt = performance.now();
    const startupGraceMs = routes.startupGraceMs ?? 10_000;
    let beenReady = false;
    app.get('/readyz', async (_request, reply) => {
      try {
        await checkReady();
        throttle.clear();
        beenReady = true;
        return { status: 'ready' };
      } catch (error) {
        const reason = error instanceof NotReadyError ? error.message : 'not ready';
        // What the log would say: the reason and the error under it (refused connections turning
        // into an authentication failure is news, though /readyz still says `redis: unavailable`).
        const underlying = error instanceof NotReadyError ? error.cause : error;
        const starting = !beenReady && performance.now() - startedAt < startupGraceMs;
        if (!starting && throttle.admit(`${reason}\n${underlying instanceof Error ? underlying.message : String(underlying)}`) !== undefined) routes.onNotReady?.(error);
        return reply.code(503).send({ status: 'not-ready', reason });
      }
    });
  }
  app.get('/metrics', async (request, reply) => {
    const timeoutSeconds = Number(request.headers['x-prometheus-scrape-timeout-seconds']);
    const delivered = answerDelivered(reply.raw, Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined);
    const { contentType, body } = await routes.scrape(request.headers, { delivered });
    return reply.header('content-type', contentType).send(body);
  });
}

/**
 * Whether a /metrics request is a scrape whose values will be stored: Prometheus (and the agents
 * built on its scrape code) sends its scrape timeout in this header on every scrape; a person's
 * curl, a container healthcheck or a browser does not.
 */
export function isPrometheusScrape(headers: IncomingHttpHeaders): boolean {
  return headers['x-prometheus-scrape-timeout-seconds'] !== undefined;
}

/**
 * How long a collection behind this /metrics answer may wait, from the scrape's own timeout
 * (Prometheus's header): half of it, the rest left for the summing, the answer and the network.
 * Undefined where the request names none (a curl) or one that is not a positive number.
 */
export function scrapeWaitMs(headers: IncomingHttpHeaders): number | undefined {
  const seconds = Number(headers['x-prometheus-scrape-timeout-seconds']);
  return Number.isFinite(seconds) && seconds > 0 ? (seconds * 1000) / 2 : undefined;
}
