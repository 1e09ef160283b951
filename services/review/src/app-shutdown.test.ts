import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, type IncomingHttpHeaders, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { ReviewPool } from '@gradcam/review-pool';
import { FsBlobStore } from '@gradcam/storage';
import { createApp } from './app.ts';
import { ReviewDesk } from './review-desk.ts';

// While the review service drains on SIGTERM (app.close()), through a real keep-alive connection.
const { redis, stop } = await startRedisWithClient();
const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-review-shutdown-'));
after(async () => {
  await stop();
  await rm(rootDir, { recursive: true, force: true });
});

const getThrough = (agent: Agent, url: string) =>
  new Promise<{ status: number; headers: IncomingHttpHeaders; body: string; reused: boolean }>((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });

test('a request reaching the service on a kept-alive connection while it closes is 503 SHUTTING_DOWN in the API error shape, with Retry-After and Connection: close', async () => {
  const pool = new ReviewPool(redis, `t${Math.random().toString(36).slice(2, 10)}`);
  const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-shutdown-secret' });
  const desk = new ReviewDesk({ pool, store, leaseMs: 60_000, undoMs: 120_000, presignSeconds: 60 });
  const app = createApp({ desk, pool, reviewers: new Map(), checkReady: async () => {}, onResponse: () => {}, scrape: async () => ({ contentType: 'text/plain', body: '' }) });
  // close() held after it began: Node closes the idle connections only once preClose hooks are done.
  let paused = () => {};
  const inPreClose = new Promise<void>((resolve) => (paused = resolve));
  let resume = () => {};
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  app.addHook('preClose', async () => {
    paused();
    await resumed;
  });
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal((await getThrough(agent, `${base}/healthz`)).status, 200);
    const closing = app.close();
    await inPreClose;
    const answer = await getThrough(agent, `${base}/healthz`);
    assert.equal(answer.reused, true, 'the kept-alive connection');
    assert.equal(answer.status, 503, answer.body);
    const { error } = JSON.parse(answer.body) as { error: { code: string; retryAfter: number } };
    assert.deepEqual([error.code, error.retryAfter], ['SHUTTING_DOWN', 1]);
    assert.equal(answer.headers['retry-after'], '1');
    assert.equal(answer.headers.connection, 'close');
    resume();
    await closing;
  } finally {
    resume();
    agent.destroy();
    await store.close();
  }
});
