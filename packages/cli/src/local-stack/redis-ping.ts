import { Redis } from 'ioredis';
import { LocalStackError } from './local-stack-error.ts';

/** The URL with any password replaced, for messages. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * PINGs REDIS_URL once, without retries: an unreachable Redis must be one line now, not two
 * minutes of every service's reconnect warnings followed by a readiness timeout.
 */
export async function checkRedisAnswers(url: string, timeoutMs = 5_000): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The socket's own error (ECONNREFUSED, ENOTFOUND) comes as an event; connect() then only says
  // "Connection is closed". Without a listener ioredis would print it too.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => (socketError ??= error));
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const reason = (socketError ?? (error instanceof Error ? error : new Error(String(error)))).message;
    throw new LocalStackError('REDIS_UNREACHABLE', `REDIS_URL: ${redactedRedisUrl(url)} does not answer PING (${reason}); start that Redis, or unset REDIS_URL for a private redis-server`);
  } finally {
    redis.disconnect();
  }
}
