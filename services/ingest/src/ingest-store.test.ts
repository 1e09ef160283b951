import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import { createRegistry } from '@gradcam/telemetry';
import { createIngestStore } from './ingest-store.ts';
import { auth, testToken } from './test-support/ingest-harness.ts';
import { createIngestApp } from './wire-ingest.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

let redis: RedisServer;
let silent: Server;
const sockets: Socket[] = [];
before(async () => {
  redis = await startRedisServer();
  // An S3 endpoint that accepts connections and never answers (a hung proxy, a frozen server).
  silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
  await new Promise((resolve) => silent.once('listening', resolve));
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  silent.close();
  await redis.stop();
});

test('a silent S3 is a 503 STORAGE_UNAVAILABLE within about 2 s, for an inline image (two puts) and a reference (a HEAD)', { timeout: 60_000 }, async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const connection = createProducerConnection(redis.url, { onError: () => undefined });
  await connectionReady(connection);
  await connection.hset(redisKeys(prefix).servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const queue = createExplainQueue({ connection, prefix, onError: () => undefined });
  const { port } = silent.address() as { port: number };
  const store = createIngestStore({ kind: 's3', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', bucket: 'captures-bucket', accessKeyId: 'a', secretAccessKey: 'b', forcePathStyle: true, prefix: 'captures' });
  const app = await createIngestApp({
    redis: connection,
    queue,
    store,
    registry: createRegistry(),
    queuePrefix: prefix,
    storagePrefix: 'captures',
    bucket: 'captures-bucket',
    policy: parseCapturePolicy('all'),
    apiTokens: [testToken],
    maxBodyBytes: 8 * 1024 * 1024,
    maxQueueDepth: 1000,
    presignSeconds: 60,
    servedModelsCacheMs: 0,
  });
  try {
    const images = [{ base64: photo.toString('base64') }, { uri: 's3://captures-bucket/uploads/a.jpg' }];
    for (const [i, image] of images.entries()) {
      const started = Date.now();
      const response = await app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id: `silent-${i}`, model: { name: 'nsfw-mobilenet-v2' }, image } });
      const took = Date.now() - started;
      assert.equal(response.statusCode, 503, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'STORAGE_UNAVAILABLE');
      assert.ok(response.headers['retry-after']);
      assert.ok(took < 3_500, `answered after ${took} ms`);
      assert.equal(await queue.getJob(`silent-${i}`), undefined);
    }
  } finally {
    await app.close();
    await queue.close();
    await store.close();
    await closeConnection(connection);
  }
});
