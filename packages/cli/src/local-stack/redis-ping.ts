import { ConfigError, redactedUrl } from '@gradcam/config';
import { refuseClusterNode } from '@gradcam/queue';
import { Redis } from 'ioredis';
import { LocalStackError } from './local-stack-error.ts';

export interface RedisCheckOptions {
  readonly timeoutMs?: number;
  /** Where the URL came from, named first in the line (REDIS_URL). */
  readonly source?: string;
  /** What to do when it does not answer. */
  readonly remedy?: string;
  /** The server could not be asked whether it is a Redis Cluster node (an ACL refusing INFO): why. */
  readonly onClusterCheckSkipped?: (reason: string) => void;
}

/**
 * PINGs REDIS_URL once, without retries: an unreachable Redis must be one line now, not two
 * minutes of every service's reconnect warnings followed by a readiness timeout. A Redis Cluster
 * node answers PING but would fail the services' scripts key by key: it is a ConfigError naming
 * REDIS_URL (see refuseClusterNode).
 */
export async function checkRedisAnswers(url: string, options: RedisCheckOptions = {}): Promise<void> {
  const { timeoutMs = 5_000, source = 'REDIS_URL', remedy = 'start that Redis, or unset REDIS_URL for a private redis-server' } = options;
  let redis: Redis;
  try {
    redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: timeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
  } catch (error) {
    // ioredis parses the URL itself, more strictly than the WHATWG URL the config checks it with:
    // `redis:host:6380` throws a TypeError here rather than fail to connect.
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError('REDIS_URL', `${redactedUrl(url)} is not a URL the Redis client can parse (${reason}); write it as redis://[:password@]host[:port][/db]`);
  }
  // The socket's own error (ECONNREFUSED, ENOTFOUND) comes as an event; connect() then only says
  // "Connection is closed". Without a listener ioredis would print it too.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => (socketError ??= error));
  try {
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      const reason = (socketError ?? (error instanceof Error ? error : new Error(String(error)))).message;
      throw new LocalStackError('REDIS_UNREACHABLE', `${source}: ${redactedUrl(url)} does not answer PING (${reason}); ${remedy}`);
    }
    const skipped = await refuseClusterNode(redis, url, source);
    if (skipped !== undefined) options.onClusterCheckSkipped?.(skipped);
  } finally {
    redis.disconnect();
  }
}
