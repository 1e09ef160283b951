import multipart from '@fastify/multipart';
import { type InferenceRecord, inferenceIdSchema, inferenceRecordSchema, maxBatchRecords } from '@gradcam/contracts';
import { createBearerAuth, tokenFingerprint } from '@gradcam/auth';
import { type ServedBlob, blobAnswerHeaders } from '@gradcam/storage';
import { QueueUnavailableError } from '@gradcam/queue';
import {
  ApiError,
  type ServerTimeouts,
  apiErrorBody,
  bodyOptional,
  frameworkErrorHandler,
  registerOperationalRoutes,
  registerServiceDefaults,
  requestErrorAnswer,
  sendApiError,
  serviceServerOptions,
  unauthorized,
} from '@gradcam/http-service';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { type AcceptDeps, type RecordOutcome, acceptRecords } from './accept-records.ts';
import { requestKindOf, toReportedApiError } from './api-error.ts';
import { cachedFor } from './cached-for.ts';
import { type EraseDeps, type Erasure, eraseInference } from './erase-inference.ts';
import { type StatusDeps, inferenceStatus } from './inference-status.ts';
import { maxImageBytes } from './inline-image.ts';
import { readMultipartRecord } from './multipart-record.ts';
import { unmatchedRoute } from './unmatched-route.ts';

export interface IngestTelemetry {
  /** A route the app registers: its requests of `statuses`, and its duration, exported at 0 from the start. */
  route(route: string, statuses: readonly number[]): void;
  request(route: string, status: number, seconds: number): void;
  /**
   * A request Node's HTTP server refused or cut before Fastify saw it (400 malformed, 408 past
   * requestTimeout, 431 headers too large), answered by the clientErrorHandler: no hook runs for it.
   */
  clientError(status: number): void;
  records(outcomes: readonly RecordOutcome[]): void;
  /** Records refused before acceptRecords saw them (failing the record schema): counted as rejected. */
  invalidRecords(count: number): void;
  captured(model: string, explain: boolean, reason: string): void;
  /** An inference erased (DELETE /v1/inferences/{id}), counted in gradcam_ingest_erasures_total. */
  erased(): void;
  /** Prometheus exposition of this process's registry. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface BlobServing {
  /**
   * Verifies a presigned local-store URL (the key and the request's whole query: `verifyBlobLink`)
   * and returns the object as `readForServing` does, or undefined when invalid/expired.
   */
  read(key: string, query: unknown): Promise<ServedBlob | undefined>;
}

export interface IngestAppDeps {
  readonly accept: AcceptDeps;
  readonly status: StatusDeps;
  readonly erase: EraseDeps;
  /**
   * Told of each inference erased, and by which erase token (its fingerprint, as the erasure
   * record's erasedBy): the log's one line per erasure, no content.
   */
  readonly onErased?: ((erasure: Erasure, erasedBy: string) => void) | undefined;
  readonly apiTokens: readonly string[];
  /**
   * GRADCAM_ERASE_TOKENS: the only tokens DELETE /v1/inferences/{id} takes (an API token gets 403
   * ERASURE_NOT_ALLOWED); none: erasure is disabled (403 ERASURE_DISABLED). They take no other route.
   */
  readonly eraseTokens?: readonly string[] | undefined;
  readonly maxBodyBytes: number;
  readonly maxQueueDepth: number;
  /** Jobs waiting in the queue (ingest refuses new work above maxQueueDepth). */
  readonly queueDepth: () => Promise<number>;
  /** Throws a NotReadyError when Redis or storage cannot be reached (see checkDependency). */
  readonly checkReady: () => Promise<void>;
  /** Told why /readyz answered 503 (the dependency's whole error): the answer names only the dependency. */
  readonly onNotReady?: ((error: unknown) => void) | undefined;
  readonly telemetry: IngestTelemetry;
  readonly blobs?: BlobServing;
  /** The server's timeouts: serverTimeouts(maxBodyBytes) unless given (tests give short ones). */
  readonly timeouts?: ServerTimeouts;
}

type Issues = z.core.$ZodIssue[];

/** The most issues a RECORD_INVALID lists in `details`; its message counts the ones left out. */
export const maxListedIssues = 20;
/** A path segment is a key the client chose (a metadata key may be megabytes): echoed only this far. */
const maxSegmentChars = 64;
const segment = (key: PropertyKey) => {
  const text = String(key);
  return text.length > maxSegmentChars ? `${text.slice(0, maxSegmentChars)}…` : text;
};
const pathOf = (issue: z.core.$ZodIssue) => issue.path.map(segment).join('.');
const describeIssues = (issues: Issues) => issues.slice(0, maxListedIssues).map((i) => ({ path: pathOf(i), message: i.message }));

function parseRecord(body: unknown): InferenceRecord {
  const parsed = inferenceRecordSchema.safeParse(body);
  if (!parsed.success) {
    const { issues } = parsed.error;
    const first = issues[0];
    const where = first && first.path.length > 0 ? `${pathOf(first)}: ` : '';
    const unlisted = issues.length - maxListedIssues;
    // The message names the first issue; the count says whether fixing it is enough.
    const more = issues.length < 2 ? '' : unlisted > 0 ? ` (${issues.length} issues in all; details lists the first ${maxListedIssues})` : ` (${issues.length} issues in all, listed in details)`;
    throw new ApiError(400, 'RECORD_INVALID', `the record is invalid: ${where}${first?.message ?? 'unknown error'}${more}`, describeIssues(issues));
  }
  return parsed.data;
}

const idInvalid = () => new ApiError(400, 'ID_INVALID', 'ids are 1–128 characters of A–Z, a–z, 0–9, "_" or "-"');

/**
 * The 5xx ingest answers: 500 (a bug, a deployment problem) and 503 (a dependency down, or Fastify
 * closing). Never 502 or 504: it proxies nothing, and a request past its timeouts is a 408.
 */
const serverErrorStatuses = [500, 503];

/**
 * The 4xx a request with a body may be refused with before its route's handler runs: 400 (JSON not
 * bounded or poisoned, not UTF-8, Fastify's own), 413 (over the body limit), 415 (a type no parser
 * takes, a charset or Content-Encoding refused): registerServiceDefaults, frameworkErrorHandler.
 */
const bodyRefusalStatuses = [400, 413, 415];

/**
 * The statuses each route's requests are exported with at 0 from the process's start
 * (IngestTelemetry.route), so that rate() counts the first request of each: a series born with it
 * is the first sample, and the first 5xx of each route in each process was invisible to
 * GradcamIngestErrorRatioHigh, a first refusal to the 'Ingest requests' panel. What a route
 * answers when it works (its share of the total the alerts divide by), the 5xx, a record route's
 * 429 (GradcamIngestQueueFull) and every 4xx the route answers: 401 behind the token; the record
 * routes' body refusals, and a single record's own (409 INFERENCE_IN_PROGRESS, 413 IMAGE_TOO_LARGE,
 * 422 for its image or model; a batch answers those per record, in its 200); 400 ID_INVALID and 404
 * on a status, and 403 (ERASURE_NOT_ALLOWED, ERASURE_DISABLED) and 409 INFERENCE_IN_PROGRESS on an
 * erasure (one route, its GET and DELETE); 403 and
 * 404 on a presigned link. A route not listed answers 200. The requests
 * Node answers itself (400 malformed, 408 past requestTimeout, 431) count under route
 * "(client-error)", exported at 0 too (IngestTelemetry.clientError), and so is the 404 of a path no
 * route takes (route "unmatched", createIngestTelemetry).
 */
const exportedStatuses: Readonly<Record<string, readonly number[]>> = {
  '/v1/inferences': [200, 202, ...bodyRefusalStatuses, 401, 409, 422, 429, ...serverErrorStatuses],
  '/v1/inferences::batch': [200, ...bodyRefusalStatuses, 401, 429, ...serverErrorStatuses],
  '/v1/inferences/:id': [200, 400, 401, 403, 404, 409, ...serverErrorStatuses],
  '/v1/blobs/*': [200, 403, 404, ...serverErrorStatuses],
};

export async function createApp(deps: IngestAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // What Node answers itself reaches no hook: counted as it is answered.
    ...serviceServerOptions({ bodyLimit: deps.maxBodyBytes, timeouts: deps.timeouts, onClientError: (status) => deps.telemetry.clientError(status) }),
    logger: false,
    // The longest id `inferenceIdSchema` allows (Fastify's default of 100 would answer a valid id
    // of 101–128 characters with its own 414). The id is the only bounded path parameter here, so
    // a longer one is an invalid id, answered like any other.
    routerOptions: { maxParamLength: 128 },
    frameworkErrors: frameworkErrorHandler({ paramTooLong: idInvalid() }),
  });
  // Before any route: each one's series exported at 0 as it is registered.
  app.addHook('onRoute', (route) => deps.telemetry.route(route.url, exportedStatuses[route.url] ?? [200, ...serverErrorStatuses]));
  registerServiceDefaults(app);
  // readMultipartRecord sets the limits per request (the body limit included, which Fastify's
  // bodyLimit does not apply to a multipart stream); these are only the defaults.
  await app.register(multipart, { limits: { fileSize: Math.min(maxImageBytes, deps.maxBodyBytes) } });
  const clientOf = createBearerAuth(new Map(deps.apiTokens.map((token) => [token, 'client'] as const)));
  const eraseTokens = deps.eraseTokens ?? [];
  // Each erase token stands for its fingerprint, recorded as erasedBy (never the token).
  const eraserOf = createBearerAuth(new Map(eraseTokens.map((token) => [token, tokenFingerprint(token)] as const)));
  // Cached for a moment: a depth check per request would double the Redis round trips.
  const depth = cachedFor(250, deps.queueDepth);

  app.addHook('onResponse', async (request, reply) => {
    deps.telemetry.request(request.routeOptions.url ?? unmatchedRoute, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof ApiError) return sendApiError(reply, error);
    const refused = requestErrorAnswer(error, deps.maxBodyBytes);
    if (refused) return sendApiError(reply, refused);
    // 503 only for a dependency that cannot answer now; anything else is a 500 retrying will not cure.
    return sendApiError(reply, toReportedApiError(error, request.id, deps.accept.onServerError, requestKindOf(request.method)));
  });

  const guarded = { onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
    // A done status carries presigned links (whoever holds one reads the object, no token asked):
    // no cache (a proxy's, an HTTP client's, a browser's disk) is to keep an answer, refusals included.
    void reply.header('cache-control', 'no-store');
    if (clientOf(request.headers.authorization) === undefined) throw unauthorized(reply, 'send "Authorization: Bearer <token>" with a token from GRADCAM_API_TOKENS (on the local stack, the API token npm start printed, kept in api-token in its state folder: .gradcam/api-token unless GRADCAM_STATE_DIR names another)');
  } };
  // Erasure removes audit evidence: it takes an erase token, never a producer's API token alone.
  // Which one, as the API token's hint says it: the deployment's setting, and only "on the local
  // stack" the file gradcam up keeps it in (a deployment has no .gradcam folder).
  const eraseTokenHint = 'an erase token from GRADCAM_ERASE_TOKENS (on the local stack, the erase token npm start printed, kept in erase-token in its state folder: .gradcam/erase-token unless GRADCAM_STATE_DIR names another)';
  const eraseGuarded = { onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('cache-control', 'no-store');
    if (eraserOf(request.headers.authorization) !== undefined) return;
    if (clientOf(request.headers.authorization) === undefined) throw unauthorized(reply, `send "Authorization: Bearer <token>" with ${eraseTokenHint}`);
    if (eraseTokens.length === 0) throw new ApiError(403, 'ERASURE_DISABLED', 'erasure is disabled on this deployment: GRADCAM_ERASE_TOKENS is not set (set it to one or more tokens of its own, none of them an API token, restart ingest, and send one)');
    throw new ApiError(403, 'ERASURE_NOT_ALLOWED', `an API token cannot erase: send ${eraseTokenHint}`);
  } };
  const admit = async () => {
    let waiting: number;
    try {
      waiting = await depth();
    } catch (error) {
      // The queue could not be read, whatever the error: a 503 (the error handler logs the cause).
      throw error instanceof QueueUnavailableError ? error : new QueueUnavailableError('could not read the queue depth', { cause: error });
    }
    if (waiting >= deps.maxQueueDepth) {
      throw new ApiError(429, 'QUEUE_FULL', `${waiting} jobs are waiting (limit ${deps.maxQueueDepth}); retry later`, undefined, 10);
    }
  };
  // A failure of the whole call reaches the error handler: toApiError decides 503 or 500.
  const accept = async (records: InferenceRecord[], requestId: string) => {
    const outcomes = await acceptRecords(deps.accept, records, requestId);
    deps.telemetry.records(outcomes);
    for (const o of outcomes) if ('status' in o && o.model !== undefined) deps.telemetry.captured(o.model, o.status === 'queued', o.reason);
    return outcomes;
  };

  app.post('/v1/inferences', guarded, async (request, reply) => {
    await admit();
    let record: InferenceRecord;
    try {
      const body = request.isMultipart() ? await readMultipartRecord(request, reply, deps.maxBodyBytes) : request.body;
      if (body === undefined) throw new ApiError(400, 'RECORD_INVALID', 'the request has no body: send the record as JSON (Content-Type: application/json) or as multipart/form-data');
      record = parseRecord(body);
    } catch (error) {
      // A multipart upload refused for its parts (MULTIPART_INVALID, IMAGE_TOO_LARGE, …) is a
      // rejected record as much as a schema failure is; a dependency failing is not.
      if (!(error instanceof ApiError) || error.status < 500) deps.telemetry.invalidRecords(1);
      throw error;
    }
    const [outcome] = await accept([record], request.id);
    if (!outcome) throw new Error('no outcome');
    if ('error' in outcome) throw outcome.error;
    return reply.code(outcome.duplicate ? 200 : 202).send(outcome);
  });

  // "::" escapes the colon: the route is literally /v1/inferences:batch.
  app.post('/v1/inferences::batch', guarded, async (request, reply) => {
    // Multipart carries one record and its image (POST /v1/inferences); left unread here, its body
    // would come out as 'send {"records": …}', which does not say the type is what is wrong.
    if (request.isMultipart()) {
      throw new ApiError(415, 'MEDIA_TYPE_UNSUPPORTED', 'a batch is JSON only: send {"records": [ … ]} as application/json, each image inline as base64 or an s3:// uri; multipart/form-data carries one record and its image, to POST /v1/inferences');
    }
    await admit();
    const body = request.body as { records?: unknown } | null;
    if (!body || !Array.isArray(body.records)) throw new ApiError(400, 'BATCH_INVALID', 'send {"records": [ … ]}');
    if (body.records.length === 0 || body.records.length > maxBatchRecords) {
      throw new ApiError(400, 'BATCH_SIZE', `a batch holds 1 to ${maxBatchRecords} records, got ${body.records.length}`);
    }
    const valid: { at: number; record: InferenceRecord }[] = [];
    const results: unknown[] = body.records.map((raw: unknown, at) => {
      try {
        valid.push({ at, record: parseRecord(raw) });
        return undefined;
      } catch (error) {
        const id = (raw as { id?: unknown } | null)?.id;
        return { index: at, ...(typeof id === 'string' && { id }), ...apiErrorBody(error as ApiError) };
      }
    });
    deps.telemetry.invalidRecords(body.records.length - valid.length);
    const outcomes = await accept(valid.map((v) => v.record), request.id);
    outcomes.forEach((outcome, i) => {
      const at = (valid[i] as { at: number }).at;
      results[at] = 'error' in outcome ? { index: at, id: outcome.id, ...apiErrorBody(outcome.error) } : { index: at, ...outcome };
    });
    // `accepted` counts every record answered with a status, so that accepted + rejected is the
    // batch (clients retry the rest); `duplicates` says how many of them were accepted before, by an
    // earlier request or as an earlier copy in this batch: accepted - duplicates records are new.
    const accepted = outcomes.filter((o) => 'status' in o).length;
    const duplicates = outcomes.filter((o) => 'status' in o && o.duplicate).length;
    // Every record refused alike for now (Redis down, no models announced): one 503 with its
    // Retry-After. A batch that also holds a record refused for its content, or other 503s, is
    // answered per record, so no record's own answer waits for a retry.
    const first = outcomes[0];
    if (valid.length === body.records.length && first !== undefined && 'error' in first && first.error.status === 503 && outcomes.every((o) => 'error' in o && o.error.code === first.error.code)) {
      throw first.error;
    }
    return reply.code(200).send({ accepted, duplicates, rejected: body.records.length - accepted, results });
  });

  app.get('/v1/inferences/:id', guarded, async (request) => {
    const { id } = request.params as { id: string };
    if (!inferenceIdSchema.safeParse(id).success) throw idInvalid();
    return inferenceStatus(deps.status, id);
  });

  // No body: an empty one sent as application/json (a client's default header) is none too.
  app.delete('/v1/inferences/:id', { ...eraseGuarded, config: bodyOptional }, async (request) => {
    const { id } = request.params as { id: string };
    if (!inferenceIdSchema.safeParse(id).success) throw idInvalid();
    const erasedBy = eraserOf(request.headers.authorization);
    if (erasedBy === undefined) throw new Error('an erasure passed its guard without an erase token');
    const erasure = await eraseInference(deps.erase, id, erasedBy);
    deps.telemetry.erased();
    deps.onErased?.(erasure, erasedBy);
    return erasure;
  });

  if (deps.blobs) {
    const blobs = deps.blobs;
    // Presigned URLs of the embedded local store: the signature is the authorisation.
    app.get('/v1/blobs/*', async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const blob = await blobs.read(key, request.query).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'STORAGE_NOT_FOUND') throw new ApiError(404, 'BLOB_NOT_FOUND', 'the object no longer exists');
        throw error;
      });
      if (!blob) throw new ApiError(403, 'URL_INVALID', 'the link is invalid or has expired; ask GET /v1/inferences/{id} for a fresh one');
      // Whatever the bytes are (a client's upload under a referenced key may be a page), a browser
      // opening the link renders no active content: an allow-listed type, nosniff, a sandbox.
      return reply.headers(blobAnswerHeaders(blob)).header('cache-control', 'private, max-age=300').send(blob.body);
    });
  }

  registerOperationalRoutes(app, { checkReady: deps.checkReady, scrape: deps.telemetry.scrape, onNotReady: deps.onNotReady });
  return app;
}
