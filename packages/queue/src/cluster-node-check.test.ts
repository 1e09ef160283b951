import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '@gradcam/config';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { Redis } from 'ioredis';
import { clusterMode, refuseClusterNode } from './cluster-node-check.ts';
import { closeConnection, connectionReady, createProducerConnection, createWorkerConnection } from './connections.ts';

// Turns a hang into a failure; nothing here asserts durations.
const hangGuard = { timeout: 30_000 };

/** A real redis-server in cluster mode (no slots assigned: PING and INFO answer, keyed commands CLUSTERDOWN). */
let clusterNode: RedisServer;
let single: RedisServer;
before(async () => {
  [clusterNode, single] = await Promise.all([startRedisServer({ extraArgs: ['--cluster-enabled', 'yes'] }), startRedisServer()]);
  // A user who may run everything but INFO and CLUSTER, as some managed Redis ACLs have it.
  for (const server of [clusterNode, single]) {
    const admin = new Redis(server.url);
    await admin.call('ACL', 'SETUSER', 'no-info', 'on', '>no-info-password', '~*', '&*', '+@all', '-info', '-cluster');
    await admin.call('ACL', 'SETUSER', 'no-info-but-cluster', 'on', '>no-info-password', '~*', '&*', '+@all', '-info');
    admin.disconnect();
  }
});
after(async () => {
  await Promise.all([clusterNode.stop(), single.stop()]);
});

/** The URL of `server` as ACL user `user`. */
const asUser = (server: RedisServer, user: string) => `redis://${user}:no-info-password@127.0.0.1:${server.port}`;

/** Promise.withResolvers, which Node 20 lacks. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

async function withClient<T>(url: string, body: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  try {
    return await body(redis);
  } finally {
    redis.disconnect();
  }
}

test('a Redis Cluster node is refused with one line naming REDIS_URL, the password hidden', hangGuard, async () => {
  const url = `redis://default:secret@127.0.0.1:${clusterNode.port}`;
  await withClient(clusterNode.url, async (redis) => {
    await assert.rejects(refuseClusterNode(redis, url), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.variable, 'REDIS_URL');
      assert.equal(
        error.message,
        `REDIS_URL: redis://default:***@127.0.0.1:${clusterNode.port} is a Redis Cluster node (cluster_enabled:1); gradcam-pipeline needs a single Redis primary (its scripts touch keys in several hash slots): use a non-cluster Redis or a cluster-mode-disabled replication group`,
      );
      return true;
    });
  });
});

test('a single Redis passes', hangGuard, async () => {
  await withClient(single.url, async (redis) => {
    assert.deepEqual(await clusterMode(redis), { clusterEnabled: false, evidence: 'cluster_enabled:0' });
    assert.equal(await refuseClusterNode(redis, single.url), undefined);
  });
});

test('where the ACL refuses INFO, CLUSTER INFO decides', hangGuard, async () => {
  await withClient(asUser(clusterNode, 'no-info-but-cluster'), async (redis) => {
    await assert.rejects(refuseClusterNode(redis, clusterNode.url), /is a Redis Cluster node \(it answers CLUSTER INFO\)/);
  });
  await withClient(asUser(single, 'no-info-but-cluster'), async (redis) => {
    assert.equal(await refuseClusterNode(redis, single.url), undefined);
  });
});

test('where the ACL refuses INFO and CLUSTER INFO the check is skipped, with the reason, not failed', hangGuard, async () => {
  for (const server of [single, clusterNode]) {
    await withClient(asUser(server, 'no-info'), async (redis) => {
      const skipped = await refuseClusterNode(redis, server.url);
      assert.match(skipped ?? '', /^INFO refused: NOPERM .*; CLUSTER INFO refused: NOPERM /);
    });
  }
});

test('connections ask at their ready: a cluster node goes to onClusterNode, a refused check to onClusterCheckSkipped once', hangGuard, async () => {
  for (const create of [createProducerConnection, createWorkerConnection]) {
    const refused = deferred<ConfigError>();
    const connection = create(clusterNode.url, { onError: () => {}, onClusterNode: (error) => refused.resolve(error) });
    try {
      assert.match((await refused.promise).message, /^REDIS_URL: redis:\/\/127\.0\.0\.1:\d+ is a Redis Cluster node \(cluster_enabled:1\)/);
    } finally {
      await closeConnection(connection);
    }
  }
  const skips: string[] = [];
  const skipped = deferred<void>();
  const connection = createProducerConnection(asUser(single, 'no-info'), {
    onError: () => {},
    onClusterNode: () => assert.fail('a single Redis is not a cluster node'),
    onClusterCheckSkipped: (reason) => {
      skips.push(reason);
      skipped.resolve();
    },
  });
  try {
    await skipped.promise;
    assert.equal(await connection.set('still-usable', '1'), 'OK');
    assert.equal(skips.length, 1);
  } finally {
    await closeConnection(connection);
  }
});

test('without onClusterNode the error goes to onError and the connection is closed', hangGuard, async () => {
  const errors: Error[] = [];
  const reported = deferred<void>();
  const connection = createProducerConnection(clusterNode.url, {
    onError: (error) => {
      errors.push(error);
      if (error instanceof ConfigError) reported.resolve();
    },
  });
  try {
    await reported.promise;
    if (connection.status !== 'end') await new Promise((resolve) => connection.once('end', resolve));
    assert.equal(connection.status, 'end');
  } finally {
    await closeConnection(connection);
  }
});

test('a single Redis: the connection is used as before', hangGuard, async () => {
  const connection = createProducerConnection(single.url, { onError: () => {}, onClusterNode: () => assert.fail('not a cluster node') });
  try {
    await connectionReady(connection);
    assert.equal(await connection.ping(), 'PONG');
  } finally {
    await closeConnection(connection);
  }
});
