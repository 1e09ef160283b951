import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { redisKeys } from '@gradcam/contracts';
import { type OutageProxy, type RedisServer, startOutageProxy, startRedisServer } from '@gradcam/dev-services';
import { type ExplainQueue, closeConnection, connectionReady, createExplainQueue, createProducerConnection } from '@gradcam/queue';
import type { ServerTimeouts } from '@gradcam/http-service';
import { type BlobStore, FsBlobStore } from '@gradcam/storage';
import { createRegistry } from '@gradcam/telemetry';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
import { createIngestApp } from '../wire-ingest.ts';

export const testToken = 'test-token-0123456789abcdef';
export const auth = { authorization: `Bearer ${testToken}` };
/** The harness's erase token (GRADCAM_ERASE_TOKENS): DELETE /v1/inferences/{id} takes it, and no API token. */
export const testEraseToken = 'test-erase-token-0123456789abcdef';
export const eraseAuth = { authorization: `Bearer ${testEraseToken}` };

export interface IngestHarness {
  readonly app: FastifyInstance;
  readonly store: FsBlobStore;
  readonly queue: ExplainQueue;
  readonly redis: Redis;
  /** What the app reported as 500 INTERNAL (main.ts logs these). */
  readonly internalErrors: unknown[];
  /** The request id each of internalErrors was reported under, in the same order. */
  readonly internalErrorIds: string[];
  /** The errors behind 503 answers (a dependency down), whose words the client was not told. */
  readonly unavailableErrors: unknown[];
  /** What made /readyz answer 503 (main.ts logs these). */
  readonly notReady: unknown[];
  close(): Promise<void>;
}

/**
 * The ingest app wired as in production, on a given Redis (own key prefix) and a temporary
 * filesystem store, with a served model announced as a worker would. Requests go through
 * `app.inject`, or a real connection after `app.listen({ port: 0 })` where the socket is under test.
 */
export async function createIngestHarness(options: {
  redisUrl: string;
  policy?: string;
  maxQueueDepth?: number;
  maxBodyBytes?: number;
  storagePrefix?: string;
  /** GRADCAM_REFERENCE_PREFIXES: none (anywhere in the bucket) unless given. */
  referencePrefixes?: readonly string[];
  /** GRADCAM_ERASE_TOKENS: [testEraseToken] unless given ([]: erasure disabled). */
  eraseTokens?: readonly string[];
  /** Short server timeouts, for a test that waits for a 408. */
  timeouts?: ServerTimeouts;
  /** The store the app is given, made from the harness's (a test that stalls or fails its writes); `store` stays the harness's own. */
  wrapStore?: (store: FsBlobStore) => BlobStore;
}): Promise<IngestHarness> {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-ingest-'));
  const redis = createProducerConnection(options.redisUrl, { onError: () => undefined });
  await connectionReady(redis);
  await redis.hset(redisKeys(prefix).servedModels, { 'nsfw-mobilenet-v2': 'nsfwjs-4.4.0' });
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const internalErrors: unknown[] = [];
  const internalErrorIds: string[] = [];
  const unavailableErrors: unknown[] = [];
  const notReady: unknown[] = [];
  const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'test-signing-secret-123' });
  const app = await createIngestApp({
    redis,
    queue,
    store: options.wrapStore?.(store) ?? store,
    registry: createRegistry(),
    queuePrefix: prefix,
    storagePrefix: options.storagePrefix ?? 'captures',
    bucket: 'local',
    ...(options.referencePrefixes && { referencePrefixes: options.referencePrefixes }),
    policy: parseCapturePolicy(options.policy ?? 'all'),
    apiTokens: [testToken],
    eraseTokens: options.eraseTokens ?? [testEraseToken],
    maxBodyBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
    maxQueueDepth: options.maxQueueDepth ?? 1000,
    ...(options.timeouts && { timeouts: options.timeouts }),
    presignSeconds: 60,
    signingSecret: 'test-signing-secret-123',
    servedModelsCacheMs: 0,
    onServerError: (error, requestId, answer) => {
      if (answer.status === 503) return void unavailableErrors.push(error);
      internalErrors.push(error);
      internalErrorIds.push(requestId);
    },
    onNotReady: (error) => notReady.push(error),
  });
  return {
    app,
    internalErrors,
    internalErrorIds,
    unavailableErrors,
    notReady,
    store,
    queue,
    redis,
    async close() {
      await app.close();
      await queue.close();
      await closeConnection(redis);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a test file: a private redis-server and an ingest harness on it, started before the file's
 * tests and stopped after them. The harness's fields read the one started (not before then).
 */
export function useIngestHarness(options: Omit<Parameters<typeof createIngestHarness>[0], 'redisUrl'> = {}): IngestHarness {
  let server: RedisServer | undefined;
  let harness: IngestHarness | undefined;
  before(async () => {
    server = await startRedisServer();
    harness = await createIngestHarness({ ...options, redisUrl: server.url });
  });
  after(async () => {
    await harness?.close();
    await server?.stop();
  });
  const started = (): IngestHarness => {
    if (harness === undefined) throw new Error('the ingest harness is started by before(): read it inside a test');
    return harness;
  };
  return {
    get app() { return started().app; },
    get store() { return started().store; },
    get queue() { return started().queue; },
    get redis() { return started().redis; },
    get internalErrors() { return started().internalErrors; },
    get internalErrorIds() { return started().internalErrorIds; },
    get unavailableErrors() { return started().unavailableErrors; },
    get notReady() { return started().notReady; },
    close: () => started().close(),
  };
}

/** Ingest reaching a private Redis through an outage proxy, and a direct client of that Redis. */
export interface IngestBehindProxy {
  readonly h: IngestHarness;
  /** Cuts, restores, or drops one reply of ingest's connection (see OutageProxy). */
  readonly proxy: OutageProxy;
  /** Straight to Redis, past the proxy: to look at what a request left, or to pause Redis. */
  readonly redis: Redis;
  /** POSTs a record of `id` referencing `uploads/photo.jpg`, stored in the harness's store. */
  post(id: string): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** For tests of Redis failing under ingest: connections cut, replies lost, writes paused. */
export async function createIngestBehindProxy(): Promise<IngestBehindProxy> {
  const server = await startRedisServer();
  const redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
  const proxy = await startOutageProxy(server.port);
  const h = await createIngestHarness({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
  await h.store.put('uploads/photo.jpg', Buffer.from('not decoded by ingest'), { contentType: 'image/jpeg' });
  const record = (id: string) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { uri: 's3://local/uploads/photo.jpg' } });
  return {
    h,
    proxy,
    redis,
    post: (id) => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: record(id) }),
    async close() {
      await h.close();
      await proxy.close();
      await closeConnection(redis);
      await server.stop();
    },
  };
}
