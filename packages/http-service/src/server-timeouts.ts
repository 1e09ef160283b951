/**
 * The slowest upload a service waits for: 64 KiB/s (about 0.5 Mbit/s), a weak mobile uplink. At
 * that rate ingest's default body limit of 64 MiB takes about 17 minutes, review's 64 KiB a second.
 */
export const slowestUploadBytesPerSecond = 64 * 1024;

/**
 * The longest a request may go without a byte moving either way. Longer than any silence of a
 * healthy answer: Redis commands time out after 2 s and S3 calls after about 2 s, and even an
 * ingest batch of 1,000 records makes at most a few dozen storage calls in a row.
 */
export const idleSocketTimeoutMs = 5 * 60_000;

/** Headers and a slow start: Node's own headersTimeout. */
const requestStartMs = 60_000;

export interface ServerTimeouts {
  /** Milliseconds in which a request must arrive whole, headers and body (Node's `server.requestTimeout`). */
  readonly requestTimeout: number;
  /** Milliseconds a socket may stay silent either way before it is closed (Node's `server.timeout`). */
  readonly connectionTimeout: number;
  /**
   * How often Node looks for requests past `requestTimeout` (its `connectionsCheckingInterval`,
   * 30 s unless given): a request is cut between `requestTimeout` and that much later. Tests that
   * wait for the cut make it short.
   */
  readonly checkIntervalMs?: number;
}

/**
 * The server timeouts of a service whose largest request body is `maxBodyBytes`. Fastify leaves
 * Node's requestTimeout and socket timeout off, and Node's headersTimeout covers only the
 * headers: without these, a client that sends its headers and then a byte now and then, or stops
 * sending, or never reads, holds its connection for ever, and close() (SIGTERM), which closes only
 * idle connections, never finishes. A request must arrive whole within a minute (headers and a
 * slow start) plus its largest allowed body at the slowest upload rate; any socket silent for
 * idleSocketTimeoutMs is closed.
 */
export function serverTimeouts(maxBodyBytes: number): ServerTimeouts {
  return {
    requestTimeout: requestStartMs + Math.ceil((maxBodyBytes / slowestUploadBytesPerSecond) * 1000),
    connectionTimeout: idleSocketTimeoutMs,
  };
}
