import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { connectionReady } from './connections.ts';
import { QueueUnavailableError } from './errors/queue-unavailable-error.ts';

/**
 * Runs a queue command, failing fast when Redis is unavailable and stating any failure as
 * QUEUE_UNAVAILABLE with the Redis error as cause. BullMQ waits for a connection's first 'ready'
 * before running any command — through any number of reconnects — so without the readiness check
 * a producer started while Redis is down would hang on its first add. After the first 'ready',
 * the producer connection's disabled offline queue makes commands reject by themselves.
 */
export async function queueCall<T>(queue: Queue, what: string, call: () => Promise<T>): Promise<T> {
  const connection: unknown = queue.opts.connection;
  // Queues built from plain options own their client; only a passed-in ioredis client can be checked.
  if (connection instanceof Redis) await connectionReady(connection);
  return redisCall(what, call);
}

/**
 * Runs Redis commands of the pipeline's own (beside BullMQ's), stating any failure as
 * QUEUE_UNAVAILABLE with the Redis error as cause, as queueCall does: a request path answers 503.
 */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof QueueUnavailableError) throw error;
    throw new QueueUnavailableError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Whether Redis ran the failed command and answered with an error (an error reply, as from a
 * script that failed partway on a key of the wrong type), found through `cause`: Redis is there
 * and answering. Otherwise (a timeout, a lost connection) it may be down or overloaded, and the
 * command may still run.
 */
export function redisAnsweredWithError(error: unknown): boolean {
  return replyErrorOf(error) !== undefined;
}

/**
 * Whether Redis refused the failed command for want of memory (`OOM command not allowed …`, found
 * through `cause`): it has reached maxmemory, and runs with noeviction (a job evicted is a record
 * lost), so it refuses every command that may take memory, a script's first such write included,
 * and still answers reads and writes that free memory.
 */
export function redisOutOfMemory(error: unknown): boolean {
  return replyErrorOf(error)?.message.startsWith('OOM ') === true;
}

/** The Redis error reply behind `error`, found through `cause`. */
function replyErrorOf(error: unknown): Error | undefined {
  for (let at = error, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    if (at.name === 'ReplyError') return at;
  }
  return undefined;
}
