/** A small client for the ingest API, used by `gradcam demo`, the pipeline benchmark and tests. */
export interface IngestClientOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** Per attempt: an attempt with no answer by then is abandoned and retried. Default 30 s. */
  readonly timeoutMs?: number;
  /** Further attempts after a dropped connection, a timeout, 429 or 503, and for records answered busy or unavailable one by one. Default 4. */
  readonly retries?: number;
  /** First wait between attempts, doubling up to 5 s; a Retry-After header wins (up to 30 s). Default 250 ms. */
  readonly backoffMs?: number;
  /** Told about each retry (the demo prints it), with what went wrong and how long it waits. */
  readonly onRetry?: (reason: string, waitMs: number) => void;
}

/**
 * Connection failures worth another attempt: the server closed or reset the connection (an ingest
 * process that died with our request, which node:cluster had already handed to it). A refused
 * connection is not retried: nothing is listening, and the caller should say so at once.
 */
const droppedConnection = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

function retryableError(error: unknown): string | undefined {
  if (error instanceof DOMException && error.name === 'TimeoutError') return 'no answer in time';
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && droppedConnection.has(code) ? `connection dropped (${code})` : undefined;
}

/**
 * Per-record answers that a later attempt can change: the id was busy, a dependency failed for
 * that record (ACCEPT_INCOMPLETE: stored, the accept not finished, which the retry completes), or
 * no live worker serves its model version yet (workers starting or upgrading). Not 409 ID_REUSED,
 * though a 409 too: the id was accepted with other content, and no retry changes that.
 */
const retryableRecordCodes = new Set(['INFERENCE_IN_PROGRESS', 'STORAGE_UNAVAILABLE', 'DEPENDENCY_UNAVAILABLE', 'ACCEPT_INCOMPLETE', 'MODELS_NOT_ANNOUNCED', 'MODEL_VERSION_NOT_SERVED']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An ingest request answered with an error status as a whole (not per record), e.g. 413 for a body over the server's limit. */
export class IngestAnswerError extends Error {
  readonly status: number;
  /** The answer's error code, e.g. BODY_TOO_LARGE. */
  readonly code: string | undefined;

  constructor(
    status: number,
    code: string | undefined,
    message: string,
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.name = 'IngestAnswerError';
  }
}

export interface BatchResult {
  /** Records answered with a status, duplicates included: accepted + rejected is the batch. */
  readonly accepted: number;
  /** Of the accepted, ids accepted before (by an earlier request or an earlier copy in the batch). */
  readonly duplicates: number;
  readonly rejected: number;
  readonly results: readonly ({ index: number; id?: string; status?: string; duplicate?: boolean; error?: { code: string; message: string; retryAfter?: number } })[];
}

export interface InferenceStatusBody {
  readonly id: string;
  readonly status: 'queued' | 'processing' | 'done' | 'failed' | 'skipped';
  readonly folder: string;
  readonly failure?: { code: string; message: string };
  /** Ingest's capture decision: why a `skipped` record was not explained (the policy in force). */
  readonly capture?: { explain: boolean; reason: string; policy: string };
  readonly manifest?: { explanations: { method: string; classIndex: number; label: string; overlay: { path: string } }[]; prediction: { label: string } };
  readonly urls?: Record<string, string>;
}

export class IngestClient {
  private readonly options: IngestClientOptions;

  constructor(options: IngestClientOptions) {
    this.options = options;
  }

  /** The answer's JSON; an answer that is not JSON (a web server's HTML page) is an error saying the server is not the ingest API. */
  private parse<T>(method: string, path: string, response: Response, text: string): T {
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      const type = response.headers.get('content-type')?.split(';')[0]?.trim() || 'no content type';
      throw new IngestAnswerError(response.status, undefined, `${method} ${path} answered ${response.status} ${type}, not the ingest API's JSON: is ${this.options.baseUrl} the gradcam ingest service?`);
    }
  }

  /**
   * One request, retried on a dropped connection, a timeout, 429 (queue full) and 503 (Redis or
   * storage down). Retrying a POST is safe: record ids are idempotency keys, so a record the
   * server did accept comes back as a duplicate, never as a second job.
   */
  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const { timeoutMs = 30_000, retries = 4, backoffMs = 250 } = this.options;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      let waitMs = Math.min(5000, backoffMs * 2 ** attempt);
      try {
        const response = await fetch(`${this.options.baseUrl}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.options.token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        if ((response.status !== 429 && response.status !== 503) || attempt >= retries) {
          return { status: response.status, body: this.parse<T>(method, path, response, text) };
        }
        reason = `${method} ${path} answered ${response.status}`;
        const retryAfter = Number(response.headers.get('retry-after'));
        if (response.headers.has('retry-after') && Number.isFinite(retryAfter) && retryAfter >= 0) waitMs = Math.min(30_000, retryAfter * 1000);
      } catch (error) {
        const retryable = retryableError(error);
        if (retryable === undefined) throw error;
        if (attempt >= retries) throw new Error(`${method} ${path}: ${retryable}, ${attempt + 1} attempts`, { cause: error });
        reason = `${method} ${path}: ${retryable}`;
      }
      this.options.onRetry?.(reason, waitMs);
      await sleep(waitMs);
    }
  }

  /**
   * Posts the records, then posts again only those the server turned away for now: another
   * request was accepting the same id (409 INFERENCE_IN_PROGRESS), or storage or Redis failed for
   * that record alone. Their later answers replace the first ones, at the records' own indexes.
   */
  async postBatch(records: readonly unknown[]): Promise<BatchResult> {
    const { retries = 4, backoffMs = 250 } = this.options;
    let result = await this.postOnce(records);
    for (let attempt = 0; attempt < retries; attempt++) {
      const again = result.results.filter((r) => r.error !== undefined && retryableRecordCodes.has(r.error.code)).map((r) => r.index);
      if (again.length === 0) break;
      // The longest retryAfter the server gave those records (workers still starting ask for 10 s), else the backoff.
      const asked = Math.max(0, ...again.map((i) => result.results[i]?.error?.retryAfter ?? 0));
      const waitMs = asked > 0 ? Math.min(30_000, asked * 1000) : Math.min(5000, backoffMs * 2 ** attempt);
      this.options.onRetry?.(`${again.length} of ${records.length} records answered ${[...new Set(again.map((i) => result.results[i]?.error?.code))].join(', ')}`, waitMs);
      await sleep(waitMs);
      const retried = await this.postOnce(again.map((i) => records[i]));
      const results = [...result.results];
      retried.results.forEach((r, k) => {
        const index = again[k] as number;
        results[index] = { ...r, index };
      });
      const accepted = results.filter((r) => r.error === undefined).length;
      result = { accepted, duplicates: results.filter((r) => r.duplicate === true).length, rejected: results.length - accepted, results };
    }
    return result;
  }

  private async postOnce(records: readonly unknown[]): Promise<BatchResult> {
    const { status, body } = await this.call<BatchResult & { error?: { code?: string; message: string } }>('POST', '/v1/inferences:batch', { records });
    if (status !== 200) throw new IngestAnswerError(status, body.error?.code, `POST /v1/inferences:batch answered ${status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body;
  }

  async status(id: string): Promise<InferenceStatusBody> {
    const { status, body } = await this.call<InferenceStatusBody & { error?: { message: string } }>('GET', `/v1/inferences/${encodeURIComponent(id)}`);
    if (status !== 200) throw new Error(`GET /v1/inferences/${id} answered ${status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body;
  }

  /** Polls until every id is done, failed or skipped (or the deadline passes). An id given twice is waited for once. */
  async waitForAll(
    given: readonly string[],
    timeoutMs: number,
    onProgress?: (finished: number, statuses: ReadonlyMap<string, InferenceStatusBody>) => void,
  ): Promise<Map<string, InferenceStatusBody>> {
    const ids = [...new Set(given)];
    const finished = new Map<string, InferenceStatusBody>();
    const deadline = Date.now() + timeoutMs;
    while (finished.size < ids.length) {
      if (Date.now() > deadline) throw new Error(`${ids.length - finished.size} of ${ids.length} inferences were not finished after ${timeoutMs / 1000} s`);
      for (const id of ids) {
        if (finished.has(id)) continue;
        const status = await this.status(id);
        if (status.status === 'done' || status.status === 'failed' || status.status === 'skipped') finished.set(id, status);
      }
      onProgress?.(finished.size, finished);
      if (finished.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return finished;
  }
}
