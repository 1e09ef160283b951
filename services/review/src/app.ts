import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createBearerAuth } from '@gradcam/auth';
import { type ReviewItem, inferenceIdSchema, reviewShownSchema, verdictSchema } from '@gradcam/contracts';
import { type ReviewListFilter, type ReviewPool, ReviewPoolError } from '@gradcam/review-pool';
import { ApiError, bodyOptional, dependencyUnavailable, type ServerErrorReport, type ServerTimeouts, frameworkErrorHandler, internalError, registerOperationalRoutes, registerServiceDefaults, reportedApiError, requestErrorAnswer, sendApiError, serviceServerOptions, unauthorized } from '@gradcam/http-service';
import { QueueUnavailableError } from '@gradcam/queue';
import { isStorageError } from '@gradcam/storage';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ReviewDesk } from './review-desk.ts';
import { ReviewDeskError } from './review-desk-error.ts';
import { csvLine, csvStart, jsonLine } from './review-export.ts';
import { listQuerySchema, modelQuerySchema, queryOf } from './review-query.ts';

export interface ReviewAppDeps {
  readonly desk: ReviewDesk;
  readonly pool: ReviewPool;
  /** Reviewer token → reviewer name. */
  readonly reviewers: ReadonlyMap<string, string>;
  /** Throws a NotReadyError when a dependency cannot be reached (see checkDependency). */
  readonly checkReady: () => Promise<void>;
  /** Told why /readyz answered 503 (the dependency's whole error): the answer names only the dependency. */
  readonly onNotReady?: ((error: unknown) => void) | undefined;
  readonly onResponse: (route: string, status: number) => void;
  readonly scrape: () => Promise<{ contentType: string; body: string }>;
  /** Told of every error answered 5xx (500, or 503 for a dependency down), with the request id the answer names: the client gets a fixed line, the log the whole error. */
  readonly onServerError?: ServerErrorReport;
  /** The server's timeouts: serverTimeouts() of the body limit unless given (tests give short ones). */
  readonly serverTimeouts?: ServerTimeouts;
}

const bodyLimit = 64 * 1024;

/** A control character other than tab, LF and CR: C0, DEL and C1. */
const controlCharacter = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
/** Half of a surrogate pair without its other half. */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why a comment cannot be kept as it is, or undefined. Control characters print nothing and break
 * the exports' readers (a NUL is refused by Postgres text and jsonb); a lone surrogate (half of an
 * emoji, cut by a client) is no text at all and would be stored as U+FFFD. Characters are counted
 * from 1, in UTF-16 code units as a browser's string is.
 */
function commentProblem(comment: string): string | undefined {
  const control = controlCharacter.exec(comment);
  const code = (at: number) => `U+${comment.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0')}`;
  if (control) return `a control character (${code(control.index)}) at character ${control.index + 1}; only tab and line breaks are kept`;
  const lone = loneSurrogate.exec(comment);
  if (lone) return `not valid Unicode (a lone surrogate, ${code(lone.index)}, at character ${lone.index + 1})`;
  return undefined;
}

const commentSchema = z
  .string()
  .max(2000)
  .superRefine((comment, context) => {
    const problem = commentProblem(comment);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });
// Strict: a misspelt key would otherwise be dropped unseen (a comment lost, a release unbound).
// `shown`: the explanation on the reviewer's screen (its method and class), one of the item's manifest.
const verdictBodySchema = z.strictObject({ verdict: verdictSchema, comment: commentSchema.optional(), shown: z.strictObject(reviewShownSchema.shape).optional() });
/** A release may name the lease it gives back (the item's `leaseExpiresAt`, epoch ms); without it (no body, or `{}`), whatever lease the caller holds. */
const releaseBodySchema = z.strictObject({ leaseExpiresAt: z.number().int().nonnegative().optional() });
/** The body of a route that takes none (renew, skip, undo, restore): none, or `{}`; anything else is refused rather than ignored, as verdict and release bodies are. */
const emptyBodySchema = z.strictObject({});
const noBody = (request: FastifyRequest) => {
  if (request.body !== undefined) emptyBodySchema.parse(request.body);
};

const reviewErrorStatus = {
  REVIEW_NOT_FOUND: 404,
  REVIEW_NOT_LEASED: 409,
  REVIEW_ALREADY_JUDGED: 409,
  REVIEW_VERDICT_IN_PROGRESS: 409,
  REVIEW_NOT_BROKEN: 409,
  REVIEW_NOT_REVIEWED: 409,
  REVIEW_NOT_YOURS: 409,
  REVIEW_UNDO_EXPIRED: 409,
  REVIEW_CURSOR_INVALID: 400,
  REVIEW_ITEM_INVALID: 500,
} as const satisfies Record<ReviewPoolError['code'], number>;

/** Stored data the desk cannot use is the service's (or an operator's) problem, not the caller's: 500, but for a restore that found it unrepaired (and a verdict naming an explanation the item lacks, the caller's). */
const deskErrorStatus = { REVIEW_ITEM_BROKEN: 500, REVIEW_DOCUMENT_INVALID: 500, REVIEW_ITEM_STILL_BROKEN: 409, REVIEW_UNDO_DISABLED: 409, REVIEW_SHOWN_UNKNOWN: 400 } as const satisfies Record<ReviewDeskError['code'], number>;

// The review page: static files read once at start (no build step).
const publicDir = new URL('../public/', import.meta.url);
const page = (name: string) => readFileSync(new URL(name, publicDir));
const script = 'text/javascript; charset=utf-8';
const pageFiles = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', script],
  '/page-kit.js': ['page-kit.js', script],
  '/page-render.js': ['page-render.js', script],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
} as const;
/**
 * The page is never shown in a frame (another site could lay it under its own buttons and click
 * a signed-in reviewer into verdicts: X-Frame-Options for old browsers, frame-ancestors for the
 * rest), and runs only its own script and style. Images are the exception: they are the blob
 * store's presigned URLs, on an origin this service does not know (an S3 endpoint or a bucket's
 * own host, or the filesystem store's public URL). Its requests tell no Referer: the image hosts
 * (S3, a CDN before it) are not told where the review page lives. `data:` is for the page's
 * icon, `data:,` in the page itself: without one, every load asked for /favicon.ico and logged
 * its 404 as a console error.
 */
const pageHeaders = {
  'cache-control': 'no-cache',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'self'; img-src 'self' https: http: data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
} as const;

/**
 * A verdict from the reviewer whose verdict on the item is kept already, differing from it: 409
 * with the kept verdict and until when it can be undone (details `verdict`, `reviewedAt`,
 * `undoUntil` while undo is on), so a page whose first try got no answer says what stands rather
 * than that nothing was saved.
 */
function alreadyJudged(error: ReviewPoolError, kept: ReviewItem, undoUntil: number | undefined): ApiError {
  const now = Date.now();
  const undo =
    undoUntil === undefined
      ? 'undo is turned off on this service (GRADCAM_REVIEW_UNDO_SECONDS=0)'
      : undoUntil > now
        ? `to change it, undo it (POST /v1/reviews/${kept.inferenceId}/undo) until ${new Date(undoUntil).toISOString()}, then send the new verdict`
        : 'it can no longer be undone (the undo window has passed)';
  return new ApiError(409, error.code, `${error.message}; ${undo}`, { verdict: kept.verdict, reviewedAt: kept.reviewedAt, ...(undoUntil !== undefined && { undoUntil }) });
}

const idInvalid = () => new ApiError(400, 'ID_INVALID', 'ids are 1–128 characters of A–Z, a–z, 0–9, "_" or "-"');

/** The `:id` of a route, checked like every inference id (it names a Redis key and a storage folder). */
function idParam(request: FastifyRequest): string {
  const parsed = inferenceIdSchema.safeParse((request.params as { id?: unknown }).id);
  if (!parsed.success) throw idInvalid();
  return parsed.data;
}

/**
 * States an error the routes raised. Only a dependency that cannot answer now (Redis, storage
 * unreachable) is a 503 to retry; stored data the desk cannot use and anything unplanned (storage
 * refusing access, a missing bucket, a bug) are 500s, which a retry will not cure.
 */
function toApiError(error: unknown, requestId: string): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ReviewPoolError) return new ApiError(reviewErrorStatus[error.code], error.code, error.message);
  if (error instanceof ReviewDeskError) return new ApiError(deskErrorStatus[error.code], error.code, error.message);
  // The errors' own messages name hosts, keys and, for the filesystem store, absolute paths: for the log only.
  if (error instanceof QueueUnavailableError) return dependencyUnavailable('DEPENDENCY_UNAVAILABLE', 'Redis is unavailable; retry later', requestId);
  if (isStorageError(error, 'STORAGE_UNAVAILABLE')) return dependencyUnavailable('DEPENDENCY_UNAVAILABLE', 'storage is unavailable; retry later', requestId);
  if (isStorageError(error)) return internalError(requestId, `storage refused the request (${error.code}): a deployment problem`);
  return internalError(requestId);
}

export function createApp(deps: ReviewAppDeps): FastifyInstance {
  const app = Fastify({
    ...serviceServerOptions({ bodyLimit, timeouts: deps.serverTimeouts }),
    logger: false,
    // The longest id `inferenceIdSchema` allows (Fastify's default of 100 answered a valid id of
    // 101–128 characters with its own 414). A longer one is an invalid id, answered like any other.
    routerOptions: { maxParamLength: 128 },
    frameworkErrors: frameworkErrorHandler({ paramTooLong: idInvalid() }),
  });
  registerServiceDefaults(app);
  const reviewerOf = createBearerAuth(deps.reviewers);
  const reviewers = new WeakMap<FastifyRequest, string>();
  // In onRequest, before the body is read: a client without a token is answered at once, and
  // never gets to make the service parse (or wait for) a body.
  const signedIn = {
    onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
      // API answers carry presigned links, comments and reviewer names: no cache (a proxy's, the
      // browser's disk) is to keep them, refusals included.
      void reply.header('cache-control', 'no-store');
      const name = reviewerOf(request.headers.authorization);
      if (name === undefined) throw unauthorized(reply, 'send "Authorization: Bearer <reviewer token>" with a token from GRADCAM_REVIEW_TOKENS');
      reviewers.set(request, name);
    },
  };
  /** The reviewer signedIn found for the request. */
  const reviewer = (request: FastifyRequest): string => {
    const name = reviewers.get(request);
    if (name === undefined) throw new Error(`${request.method} ${request.routeOptions.url ?? ''} has no signedIn hook`);
    return name;
  };

  app.addHook('onResponse', async (request, reply) => deps.onResponse(request.routeOptions.url ?? 'unmatched', reply.statusCode));
  app.setErrorHandler(async (error, request, reply) => {
    if (error instanceof z.ZodError) {
      const issue = error.issues[0];
      return sendApiError(reply, new ApiError(400, 'REQUEST_INVALID', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`));
    }
    const refused = requestErrorAnswer(error, bodyLimit);
    if (refused) return sendApiError(reply, refused);
    return sendApiError(reply, reportedApiError(toApiError(error, request.id), error, request.id, deps.onServerError));
  });

  // The API's GET routes answer no HEAD (Fastify adds one for every GET unless told): a HEAD of
  // /next leases (or renews) an item, one of an export reads the whole pool, and none of them has
  // a use a monitor needs. HEAD is then 405 METHOD_NOT_ALLOWED (its Allow has no HEAD), as any other method a route lacks.
  const apiGet = { ...signedIn, exposeHeadRoute: false };

  // Routes whose body is none, `{}` or (release) optional: an empty body sent as application/json is none too.
  const takesNoBody = { ...signedIn, config: bodyOptional };

  app.get('/v1/reviews/next', apiGet, async (request, reply) => {
    const name = reviewer(request);
    const { model } = modelQuerySchema.parse(queryOf(request, modelQuerySchema));
    const packet = await deps.desk.next(name, model);
    if (!packet) return reply.code(204).send();
    return packet;
  });

  app.post('/v1/reviews/:id', signedIn, async (request) => {
    const name = reviewer(request);
    const id = idParam(request);
    const body = verdictBodySchema.parse(request.body);
    let item: ReviewItem;
    try {
      item = await deps.desk.judge(id, name, body.verdict, body.comment, body.shown);
    } catch (error) {
      if (error instanceof ReviewPoolError && error.code === 'REVIEW_ALREADY_JUDGED' && error.item) throw alreadyJudged(error, error.item, deps.desk.undoUntil(error.item));
      throw error;
    }
    // Until when its reviewer may take it back (POST …/undo), for the page's Undo control; none with undo turned off.
    const undoUntil = deps.desk.undoUntil(item);
    return { item, ...(undoUntil !== undefined && { undoUntil }) };
  });

  // A slip taken back: the item is leased to its reviewer again, review.json keeps the verdict and its retraction.
  app.post('/v1/reviews/:id/undo', takesNoBody, async (request) => {
    const name = reviewer(request);
    const id = idParam(request);
    noBody(request);
    return { item: await deps.desk.undo(id, name) };
  });

  // How many items wait, for the page's "N waiting" (of one model with ?model=).
  app.get('/v1/reviews/backlog', apiGet, async (request) => {
    const { model } = modelQuerySchema.parse(queryOf(request, modelQuerySchema));
    const backlog = await deps.pool.backlog(Date.now(), model);
    return { pending: backlog.pending, leased: backlog.leased, oldestPendingAt: backlog.oldestPendingAt ?? null };
  });

  // A reviewer who stops gives the item back at once rather than leaving it leased until expiry.
  // Bound to the lease it names (a closing page's release may land after another tab of the same
  // reviewer renewed the lease: that one is not given back).
  app.post('/v1/reviews/:id/release', takesNoBody, async (request) => {
    const name = reviewer(request);
    const id = idParam(request);
    const { leaseExpiresAt } = releaseBodySchema.parse(request.body === undefined ? {} : request.body);
    return { item: await deps.pool.release(id, name, Date.now(), leaseExpiresAt === undefined ? {} : { lease: leaseExpiresAt }) };
  });

  // The holder's live lease, for another lease time: a tab that still shows the item another tab gave back.
  app.post('/v1/reviews/:id/renew', takesNoBody, async (request) => {
    const name = reviewer(request);
    const id = idParam(request);
    noBody(request);
    return { item: await deps.desk.renew(id, name) };
  });

  // "Not mine to judge": back to the pool for the others, kept away from this reviewer.
  app.post('/v1/reviews/:id/skip', takesNoBody, async (request) => {
    const name = reviewer(request);
    const id = idParam(request);
    noBody(request);
    return { item: await deps.pool.skip(id, name) };
  });

  // For an operator who repaired a broken item's files: it goes back to the pool, pending.
  app.post('/v1/reviews/:id/restore', takesNoBody, async (request) => {
    const id = idParam(request);
    noBody(request);
    return { item: await deps.desk.restore(id) };
  });

  app.get('/v1/reviews', apiGet, async (request, reply) => {
    const given = queryOf(request, listQuerySchema);
    const query = listQuerySchema.parse(given);
    if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
      throw new ApiError(400, 'REQUEST_INVALID', `from (${new Date(query.from).toISOString()}) is after to (${new Date(query.to).toISOString()}): no item can match; swap them`);
    }
    const filter: ReviewListFilter = {
      ...(query.status && { status: query.status }),
      ...(query.model && { model: query.model }),
      ...(query.verdict && { verdict: query.verdict }),
      ...(query.from !== undefined && { from: query.from }),
      ...(query.to !== undefined && { to: query.to }),
    };
    if (query.format === 'json') {
      const page = await deps.pool.list(filter, { limit: query.limit ?? 50, ...(query.cursor !== undefined && { cursor: query.cursor }) });
      return { items: page.items, ...(page.next !== undefined && { next: page.next }) };
    }
    // Exports walk every page of the filter; they are streamed so memory stays flat. Paging them
    // would need the next cursor before the body (a header), known only after the first page.
    if ('cursor' in given || 'limit' in given) {
      throw new ApiError(400, 'REQUEST_INVALID', `format=${query.format} exports every match: cursor and limit page format=json only (narrow an export with status, model, verdict, from and to)`);
    }
    const csv = query.format === 'csv';
    const pageOf = (cursor?: string) => deps.pool.list(filter, { limit: 500, ...(cursor !== undefined && { cursor }) });
    // Read before the first byte goes out: Redis being down is then a 503 like on any route, not
    // a stream cut after its headers. A failure on a later page can only cut the stream (the
    // client sees an incomplete chunked body, never a short file that looks whole).
    const first = await pageOf();
    void reply
      .header('content-type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="reviews.${csv ? 'csv' : 'jsonl'}"`);
    return reply.send(
      Readable.from(
        (async function* () {
          if (csv) yield csvStart;
          for (let page = first; ; page = await pageOf(page.next)) {
            for (const item of page.items) yield csv ? csvLine(item) : jsonLine(item);
            if (page.next === undefined) break;
          }
        })(),
      ),
    );
  });

  for (const [route, [file, type]] of Object.entries(pageFiles)) {
    const body = page(file);
    app.get(route, async (_request, reply) => reply.headers({ ...pageHeaders, 'content-type': type }).send(body));
  }
  registerOperationalRoutes(app, { checkReady: deps.checkReady, scrape: deps.scrape, onNotReady: deps.onNotReady });
  return app;
}
