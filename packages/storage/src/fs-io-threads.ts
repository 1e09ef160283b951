import { ThreadCalls, ThreadStuckError } from '@gradcam/thread-calls';
import { FsCallError } from './fs-call-error.ts';
import { defaultRequestTimeoutMs, missedDeadline } from './fs-deadline.ts';
import { StorageError } from './storage-error.ts';

export { FsCallError };

export type FsRequest =
  /**
   * The thread writes a temporary file next to `path` (`.<name>.<16 hex>.partial`), then renames
   * it; with `fsync`, it fsyncs the folders from the object's up to `root` before answering.
   */
  | { readonly op: 'write'; readonly path: string; readonly root: string; readonly body: Uint8Array; readonly fsync: boolean }
  /** `etag`: read the file for its ETag (content-etag.mjs), of a stat's file or of the bytes a read read. */
  | { readonly op: 'stat'; readonly path: string; readonly etag?: boolean }
  | { readonly op: 'read'; readonly path: string; readonly maxBytes?: number; readonly etag?: boolean };

/** What a request found: a stat's or read's file (`data` only from a read within its limit). */
export interface FsFound {
  readonly isFile?: boolean;
  readonly size?: number;
  readonly data?: Uint8Array;
  /** The ETag of the file's contents (see BlobHead.etag), when the request asked for it. */
  readonly etag?: string;
}

type FsReply = ({ readonly ok: true } & FsFound) | { readonly ok: false; readonly step: string; readonly code?: string; readonly message: string };

interface Queued {
  readonly request: FsRequest;
  readonly resolve: (found: FsFound) => void;
  readonly reject: (error: Error) => void;
}

/** One message to a thread: the requests of one turn, write bodies packed into `bodies`. */
interface FsMessage {
  readonly requests: readonly unknown[];
  readonly bodies: ArrayBuffer;
}

/**
 * The most body bytes one message carries, and so the largest body a write may have: the bodies
 * are copied into one buffer per message, and the copy must stay small beside the process's
 * memory. Larger objects are the store's to write without the threads (fs/promises, no copy).
 */
export const maxMessageBodyBytes = 32 * 1024 * 1024;

export interface FsIoThreadsOptions {
  /** Body bytes per message (default `maxMessageBodyBytes`); a write with a larger body is refused. */
  readonly maxMessageBodyBytes?: number;
  /**
   * How long a request may go unanswered (default `defaultRequestTimeoutMs`, 30 s). Then it
   * fails with ETIMEDOUT, and so does every request its thread had in flight: the thread is taken
   * to be stuck (a hung NFS or FUSE call), gets nothing more, and a new one takes its place.
   */
  readonly timeoutMs?: number;
  /**
   * Threads given up as stuck that may still be blocked (default 8) before requests are refused
   * at once (ETIMEDOUT) instead of starting more: each holds its OS thread and memory until its
   * call returns, and on a mount that stays hung every new thread would soon be stuck too.
   * Requests flow again as soon as one returns.
   */
  readonly maxStuckThreads?: number;
}

function threadDied(cause: string, code: number): StorageError {
  return new StorageError('STORAGE_UNAVAILABLE', `filesystem I/O thread failed (${cause}, code ${code})`, { transient: true });
}

/**
 * Twice the I/O thread's progress interval: a thread with work that said nothing this long may
 * be stuck (or half the deadline, when that is shorter).
 */
const suspectSilenceMs = 2_000;

const bodyBytes = ({ request }: Queued): number => (request.op === 'write' ? request.body.byteLength : 0);

/** A request whose thread was given up as stuck: ETIMEDOUT, transient for the store. */
function givenUp(request: FsRequest, error: ThreadStuckError): FsCallError {
  if (error.missed) return missedDeadline(request.op, error.timeoutMs, '; its I/O thread is taken to be stuck and replaced');
  return new FsCallError(`given up with its I/O thread, which left another request unanswered for ${error.timeoutMs} ms`, 'ETIMEDOUT', request.op);
}

/** Cuts a thread's share into runs of requests whose bodies add up to at most `limit` bytes each. */
function messagesOf(share: readonly Queued[], limit: number): Queued[][] {
  const messages: Queued[][] = [];
  let current: Queued[] = [];
  let bytes = 0;
  for (const queued of share) {
    const size = bodyBytes(queued);
    if (current.length > 0 && bytes + size > limit) {
      messages.push(current);
      current = [];
      bytes = 0;
    }
    current.push(queued);
    bytes += size;
  }
  if (current.length > 0) messages.push(current);
  return messages;
}

/** Sends requests to `thread` as one message and settles each from its reply. */
function send(thread: ThreadCalls<FsMessage, FsReply[]>, batch: readonly Queued[]): void {
  let message: FsMessage;
  try {
    // The bodies are copied into one buffer, which is transferred: the caller keeps its buffers, a
    // small view into a large one (Node's pooled Buffers) does not drag the whole buffer across,
    // and one transfer per message costs a quarter of one per body (measured: ~5 µs per body).
    let total = 0;
    for (const queued of batch) total += bodyBytes(queued);
    const bodies = new Uint8Array(total);
    let offset = 0;
    const requests = batch.map(({ request }) => {
      if (request.op !== 'write') return request;
      const { path, root, body, fsync } = request;
      bodies.set(body, offset);
      offset += body.byteLength;
      return { op: 'write', path, root, fsync, offset: offset - body.byteLength, length: body.byteLength };
    });
    message = { requests, bodies: bodies.buffer };
  } catch (error) {
    // Out of memory for the copy (this runs from setImmediate: nothing above would catch it, and
    // the requests would never settle). Memory may be there later: transient.
    const failure = new StorageError('STORAGE_UNAVAILABLE', `filesystem I/O: could not pack ${batch.length} requests for a thread: ${error instanceof Error ? error.message : String(error)}`, { transient: true, cause: error });
    for (const queued of batch) queued.reject(failure);
    return;
  }
  thread.call(message, [message.bodies]).then(
    (replies) =>
      batch.forEach((queued, i) => {
        const reply = replies[i] as FsReply;
        if (reply.ok) queued.resolve(reply);
        else queued.reject(new FsCallError(reply.message, reply.code, reply.step));
      }),
    (error: Error) => batch.forEach((queued) => queued.reject(error instanceof ThreadStuckError ? givenUp(queued.request, error) : error)),
  );
}

/**
 * Runs small filesystem operations synchronously on a few worker threads, many per message.
 * Each `fs/promises` call is a round trip through libuv's thread pool with its own wake-ups and
 * promise machinery: on the 2-core VM an atomic put (mkdir, open, write, fsync, close, rename)
 * cost about 155 µs of CPU that way against 30–45 µs as plain synchronous calls. Requests made
 * in the same turn of the event loop go to a thread as one message, so ingest's 100-record
 * batch costs a handful of messages rather than 700 pool round trips. Several threads keep slow
 * disks' fsyncs overlapping, as the thread pool did. No request waits longer than `timeoutMs`.
 */
export class FsIoThreads {
  private readonly threads: ThreadCalls<FsMessage, FsReply[]>[];
  private queued: Queued[] = [];
  private closed = false;
  private readonly maxMessageBodyBytes: number;
  private readonly maxStuckThreads: number;
  private readonly suspectAfterMs: number;

  constructor(threads = 2, options: FsIoThreadsOptions = {}) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    this.maxMessageBodyBytes = options.maxMessageBodyBytes ?? maxMessageBodyBytes;
    if (!(this.maxMessageBodyBytes > 0)) throw new RangeError(`maxMessageBodyBytes must be positive, got ${this.maxMessageBodyBytes}`);
    this.maxStuckThreads = options.maxStuckThreads ?? 8;
    if (!(this.maxStuckThreads >= 1)) throw new RangeError(`maxStuckThreads must be at least 1, got ${this.maxStuckThreads}`);
    const timeoutMs = options.timeoutMs ?? defaultRequestTimeoutMs;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
    this.suspectAfterMs = Math.min(suspectSilenceMs, timeoutMs / 2);
    // Threads start on their first request: a store that is never written costs none.
    this.threads = Array.from({ length: threads }, () => new ThreadCalls({ url: new URL('./fs-io-thread.mjs', import.meta.url), failure: threadDied, timeoutMs }));
  }

  run(request: FsRequest): Promise<FsFound> {
    if (this.closed) return Promise.reject(new StorageError('STORAGE_UNAVAILABLE', 'the filesystem blob store is closed'));
    if (request.op === 'write' && request.body.byteLength > this.maxMessageBodyBytes) {
      return Promise.reject(new RangeError(`a write body of ${request.body.byteLength} bytes is over the ${this.maxMessageBodyBytes} a message carries: write it without the I/O threads`));
    }
    const stuck = this.threads.reduce((sum, thread) => sum + thread.stuckThreads, 0);
    if (stuck >= this.maxStuckThreads) {
      return Promise.reject(new FsCallError(`refused: ${stuck} I/O threads are blocked in filesystem calls that never returned`, 'ETIMEDOUT', request.op));
    }
    return new Promise((resolve, reject) => {
      if (this.queued.length === 0) setImmediate(() => this.flush());
      this.queued.push({ request, resolve, reject });
    });
  }

  /**
   * Refuses new requests, lets those already made finish (or reach their deadline: a stuck
   * thread is given up, not waited for), then stops the threads. Safe twice.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    await Promise.all(this.threads.map((thread) => thread.close()));
  }

  /**
   * Splits what this turn queued evenly over the threads, least busy first, each thread's share in
   * as few messages as carry its bodies within `maxMessageBodyBytes` each, so that the fsyncs of
   * a batch overlap. A thread silent for a while with work in flight (it says it is moving at
   * least once a second: this one may be in a call that hangs) gets no share while another is
   * not; a thread merely busy still does, or a turn would queue behind one slow request.
   */
  private flush(): void {
    const queued = this.queued;
    this.queued = [];
    if (queued.length === 0) return;
    const byLoad = [...this.threads].sort((a, b) => a.inFlight - b.inFlight);
    const moving = byLoad.filter((thread) => thread.silentMs < this.suspectAfterMs);
    const targets = moving.length > 0 ? moving : byLoad;
    const share = Math.ceil(queued.length / targets.length);
    for (let i = 0; i * share < queued.length; i++) {
      const thread = targets[i] as ThreadCalls<FsMessage, FsReply[]>;
      for (const message of messagesOf(queued.slice(i * share, (i + 1) * share), this.maxMessageBodyBytes)) send(thread, message);
    }
  }
}
