import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { type ServerTimeouts, idleSocketTimeoutMs, serverTimeouts } from '@gradcam/http-service';
import { trickleRequest } from '@gradcam/http-service/testing';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore } from '@gradcam/storage';
import { createApp } from './app.ts';
import { reviewItem } from './review-item-fixture.ts';
import { ReviewDesk } from './review-desk.ts';

// What review does with a connection a client holds open: a real socket, not app.inject().
const { redis, stop } = await startRedisWithClient();
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-connections-'));
const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-connections-secret' });
after(async () => {
  await store.close();
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

const token = 'alice-token-0123456789';

function setup(serverTimeouts?: ServerTimeouts) {
  const pool = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const app = createApp({
    desk,
    pool,
    reviewers: new Map([[token, 'alice']]),
    checkReady: async () => {},
    onResponse: () => {},
    scrape: async () => ({ contentType: 'text/plain', body: '' }),
    ...(serverTimeouts && { serverTimeouts }),
  });
  return { app, pool };
}

const within = <T>(ms: number, promise: Promise<T>) => Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);

test("the server's timeouts are finite: a request arrives whole within a minute plus a 64 KiB body at the slowest upload rate", async () => {
  const { app } = setup();
  try {
    assert.equal(app.server.requestTimeout, serverTimeouts(64 * 1024).requestTimeout);
    assert.equal(app.server.timeout, idleSocketTimeoutMs);
  } finally {
    await app.close();
  }
});

test('a client without a reviewer token is answered 401 before its body arrives, in the API error shape', async () => {
  const { app } = setup();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  try {
    for (const headers of [{}, { authorization: 'Bearer not-a-reviewer-token-0123' }]) {
      const client = trickleRequest(port, '/v1/reviews/some-item', { headers });
      try {
        const answer = await within(2_000, client.answered);
        assert.ok(answer !== undefined, 'answered while the body still trickles');
        assert.equal(answer.status, 401);
        assert.deepEqual(JSON.parse(answer.body), {
          error: { code: 'UNAUTHORIZED', message: 'send "Authorization: Bearer <reviewer token>" with a token from GRADCAM_REVIEW_TOKENS' },
        });
      } finally {
        client.stop();
      }
    }
  } finally {
    await app.close();
  }
});

test("a reviewer's client trickling a verdict a byte at a time is cut off at requestTimeout, and the service's close() does not wait for it", async () => {
  const { app, pool } = setup({ requestTimeout: 400, connectionTimeout: 5_000, checkIntervalMs: 50 });
  await pool.add(reviewItem('trickled-verdict'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const client = trickleRequest((app.server.address() as AddressInfo).port, '/v1/reviews/trickled-verdict', { headers: { authorization: `Bearer ${token}` } });
  try {
    const closed = await within(3_000, client.closed);
    assert.ok(closed, 'the server closed the connection');
    assert.match(closed.answer, /^HTTP\/1\.1 408 /);
    const closing = Date.now();
    assert.ok((await within(2_000, app.close().then(() => true))) === true, 'close() finished');
    assert.ok(Date.now() - closing < 1_000, `close() took ${Date.now() - closing} ms`);
  } finally {
    client.stop();
    await app.close();
  }
});
