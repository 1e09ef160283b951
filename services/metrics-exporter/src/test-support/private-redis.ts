import { after, before } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createProducerConnection } from '@gradcam/queue';
import type { Redis } from 'ioredis';

export interface PrivateRedis {
  /** The file's own redis-server (its `url` for further connections). */
  readonly server: RedisServer;
  /** A producer connection on it, as the exporter's own: fails fast while Redis is away. */
  readonly redis: Redis;
}

/**
 * A redis-server of the test file's own, with a ready producer connection, started before its
 * tests and stopped after them. Read the fields inside tests (they are set by `before`).
 */
export function usePrivateRedis(): PrivateRedis {
  const rig = {} as { server: RedisServer; redis: Redis };
  before(async () => {
    rig.server = await startRedisServer();
    rig.redis = createProducerConnection(rig.server.url, { onError: () => {} });
    await connectionReady(rig.redis);
  });
  after(async () => {
    await closeConnection(rig.redis);
    await rig.server.stop();
  });
  return rig;
}
