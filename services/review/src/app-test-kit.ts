import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { type BlobStore, FsBlobStore } from '@gradcam/storage';
import type { Redis } from 'ioredis';
import { createApp } from './app.ts';
import { ReviewDesk } from './review-desk.ts';

/** Reviewers alice and bob, signed in with these headers. */
export const alice = { authorization: 'Bearer alice-token-0123456789' };
export const bob = { authorization: 'Bearer bob-token-0123456789' };
const reviewers = new Map([
  ['alice-token-0123456789', 'alice'],
  ['bob-token-0123456789', 'bob'],
]);

/** An answer's status and error code, for one assertion. */
export const errorAnswer = (response: { statusCode: number; body: string }) => [response.statusCode, (JSON.parse(response.body) as { error?: { code?: string } }).error?.code];

export interface AppOptions {
  readonly connection?: Redis;
  readonly store?: BlobStore;
  readonly leaseMs?: number;
  readonly undoMs?: number;
}

/**
 * For the service's app tests (app.inject()): a real Redis and a real filesystem store for the
 * test file, both gone after it, and apps built on them, each on its own pool prefix.
 */
export async function appTestKit(name: string) {
  const { redis, stop } = await startRedisWithClient();
  const rootDir = await mkdtemp(join(tmpdir(), `gradcam-review-${name}-`));
  after(async () => {
    await stop();
    await rm(rootDir, { recursive: true, force: true });
  });
  const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: `review-${name}-secret` });
  /** An app on its own pool prefix: on the file's Redis and store unless others are given. */
  function setup(options: AppOptions = {}) {
    const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
    const pool = new ReviewPool(options.connection ?? redis, prefix);
    const desk = new ReviewDesk({ pool, store: options.store ?? store, leaseMs: options.leaseMs ?? 60_000, undoMs: options.undoMs ?? 120_000, presignSeconds: 60 });
    const internalErrors: unknown[] = [];
    const internalErrorIds: string[] = [];
    const app = createApp({
      desk,
      pool,
      reviewers,
      checkReady: async () => {},
      onResponse: () => {},
      scrape: async () => ({ contentType: 'text/plain', body: '' }),
      onServerError: (error, requestId, answer) => {
        if (answer.status !== 500) return;
        internalErrors.push(error);
        internalErrorIds.push(requestId);
      },
    });
    return { prefix, pool, desk, app, internalErrors, internalErrorIds };
  }
  return { redis, rootDir, store, setup };
}
