import type { Redis } from 'ioredis';

/** How often the exporter checks the length the queue's event stream is trimmed to. */
export const streamLengthCheckMs = 10_000;

/** BullMQ's field in the queue's meta hash: every script that writes an event trims the stream to it. */
const lengthField = 'opts.maxLenEvents';

export interface EventStreamLengthOptions {
  /** A producer connection: while Redis is down a check fails at once and is tried again at the next. */
  readonly redis: Redis;
  /** The queue's meta hash (`queue.toKey('meta')`). */
  readonly metaKey: string;
  /** The pipeline's length (`explainJob.eventStreamLength`). */
  readonly length: number;
  /** The stream was set to keep fewer events (`was`), and is set back. */
  readonly onRaised: (was: number) => void;
  readonly onError: (error: Error) => void;
}

/**
 * Keeps the queue's event stream at least the pipeline's length, so that an exporter restart under
 * load still counts its whole gap. BullMQ trims the stream to the length in the queue's meta hash,
 * which every `Queue` overwrites when it starts (BullMQ's default of 10,000 unless told otherwise)
 * and every add sets to 10,000 when it is missing: a dashboard or a script making a Queue on the
 * explain queue, or a flushed Redis, shortened the stream until ingest next restarted. A longer
 * length set on purpose is left alone. Never rejects.
 */
export async function keepEventStreamLength(options: EventStreamLengthOptions): Promise<void> {
  const { redis, metaKey, length } = options;
  try {
    const raw = await redis.hget(metaKey, lengthField);
    const current = raw === null ? undefined : Number(raw);
    if (current !== undefined && current >= length) return;
    await redis.hset(metaKey, lengthField, length);
    // Missing: no event was written since Redis lost the meta, so nothing was trimmed short yet.
    if (current !== undefined) options.onRaised(current);
  } catch (error) {
    options.onError(error instanceof Error ? error : new Error(String(error)));
  }
}
