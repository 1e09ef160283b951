/**
 * The slowest upload ingest waits for: 64 KiB/s (about 0.5 Mbit/s), a weak mobile uplink. At that
 * rate the default body limit of 64 MiB takes about 17 minutes.
 */
export const slowestUploadBytesPerSecond = 64 * 1024;

/**
 * The longest a request may go without a byte moving either way. Longer than any silence of a
 * healthy answer: Redis commands time out after 2 s and S3 calls after about 2 s, and even a batch
 * of 1,000 records makes at most a few dozen storage calls in a row.
 */
export const idleSocketTimeoutMs = 5 * 60_000;

/**
 * Fastify's server timeouts for ingest. Fastify leaves Node's requestTimeout off, so without these
 * a client that stops sending, or a socket nobody reads, holds its connection for ever. A request
 * must arrive whole within a minute (headers and a slow start) plus its largest allowed body at the
 * slowest upload rate; any socket silent for idleSocketTimeoutMs is closed.
 */
export function serverTimeouts(maxBodyBytes: number): { requestTimeout: number; connectionTimeout: number } {
  return {
    requestTimeout: 60_000 + Math.ceil((maxBodyBytes / slowestUploadBytesPerSecond) * 1000),
    connectionTimeout: idleSocketTimeoutMs,
  };
}
