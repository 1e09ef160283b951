import assert from 'node:assert/strict';
import { Agent, type IncomingHttpHeaders, get } from 'node:http';
import { after, before, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { type IngestHarness, auth, createIngestHarness } from './test-support/ingest-harness.ts';

// While ingest drains on SIGTERM (app.close()), through a real keep-alive connection.
let redis: RedisServer;
let h: IngestHarness;
before(async () => {
  redis = await startRedisServer();
  h = await createIngestHarness({ redisUrl: redis.url });
});
after(async () => {
  await h.close();
  await redis.stop();
});

const getThrough = (agent: Agent, url: string) =>
  new Promise<{ status: number; headers: IncomingHttpHeaders; body: string; reused: boolean }>((resolve, reject) => {
    const req = get(url, { agent, headers: auth }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });

test("a request reaching ingest on a kept-alive connection while it closes is 503 SHUTTING_DOWN in ingest's error shape, with Retry-After and Connection: close", async () => {
  // close() held after it began: Node closes the idle connections only once preClose hooks are done.
  let paused = () => {};
  const inPreClose = new Promise<void>((resolve) => (paused = resolve));
  let resume = () => {};
  const resumed = new Promise<void>((resolve) => (resume = resolve));
  h.app.addHook('preClose', async () => {
    paused();
    await resumed;
  });
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal((await getThrough(agent, `${base}/v1/inferences/shut-1`)).status, 404);
    const closing = h.app.close();
    await inPreClose;
    const answer = await getThrough(agent, `${base}/v1/inferences/shut-1`);
    assert.equal(answer.reused, true, 'the kept-alive connection');
    assert.equal(answer.status, 503, answer.body);
    const { error } = JSON.parse(answer.body) as { error: { code: string; retryAfter: number } };
    assert.deepEqual([error.code, error.retryAfter], ['SHUTTING_DOWN', 1]);
    assert.equal(answer.headers['retry-after'], '1');
    assert.equal(answer.headers.connection, 'close', "the client's next request goes to another process");
    resume();
    await closing;
  } finally {
    resume();
    agent.destroy();
  }
});
