import { Redis } from 'ioredis';
import { type RedisServer, startRedisServer } from './redis-server.ts';

export interface RedisWithClient {
  readonly server: RedisServer;
  readonly redis: Redis;
  /** Disconnects the client, then stops the server. */
  stop(): Promise<void>;
}

/** A private redis-server (startRedisServer) and a client on it: how a test file on Redis begins. */
export async function startRedisWithClient(): Promise<RedisWithClient> {
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  return {
    server,
    redis,
    stop: async () => {
      redis.disconnect();
      await server.stop();
    },
  };
}
