import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { IngestAnswerError, IngestClient } from './ingest-client.ts';

/** A real HTTP server whose n-th request (0-based) gets `answer(n, …)`; it records each body. */
async function server(answer: (n: number, request: IncomingMessage, response: ServerResponse) => void) {
  const bodies: string[] = [];
  // Requests whose headers arrived: one the client gives up on may never send its whole body.
  let requests = 0;
  const http = createServer((request, response) => {
    requests += 1;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      answer(bodies.length - 1, request, response);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  after(() => {
    http.closeAllConnections();
    http.close();
  });
  return { baseUrl, bodies, requests: () => requests };
}

const accepted = (response: ServerResponse) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ accepted: 1, rejected: 0, results: [{ index: 0, id: 'a', status: 'queued' }] }));
};
const records = [{ id: 'a', model: { name: 'm' }, image: { uri: 's3://b/k' } }];

describe('IngestClient retries', () => {
  test('503 with Retry-After: waits as told, sends the same records again, returns the answer', async () => {
    const { baseUrl, bodies } = await server((n, _request, response) => {
      if (n > 0) return accepted(response);
      response.writeHead(503, { 'retry-after': '0', 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'REDIS_UNAVAILABLE', message: 'down' } }));
    });
    const retries: string[] = [];
    const client = new IngestClient({ baseUrl, token: 't', backoffMs: 1, onRetry: (reason, waitMs) => retries.push(`${reason} / ${waitMs}`) });
    const result = await client.postBatch(records);
    assert.equal(result.accepted, 1);
    assert.deepEqual(retries, ['POST /v1/inferences:batch answered 503 / 0']);
    assert.equal(bodies.length, 2);
    assert.equal(bodies[1], bodies[0]);
  });

  test('a connection the server drops mid-request is retried', async () => {
    const { baseUrl, bodies } = await server((n, request, response) => {
      if (n === 0) request.socket.destroy();
      else accepted(response);
    });
    const retries: string[] = [];
    const client = new IngestClient({ baseUrl, token: 't', backoffMs: 1, onRetry: (reason) => retries.push(reason) });
    assert.equal((await client.postBatch(records)).accepted, 1);
    assert.equal(bodies.length, 2);
    assert.match(retries[0] ?? '', /connection dropped/);
  });

  test('no answer: each attempt times out, and the error says how many were made', async () => {
    const { baseUrl, requests } = await server(() => undefined);
    // Long enough for each attempt to reach the server on a loaded machine (its body need not:
    // at 150 ms a second body was once not read whole before the client gave up).
    const client = new IngestClient({ baseUrl, token: 't', timeoutMs: 500, retries: 1, backoffMs: 1 });
    await assert.rejects(client.postBatch(records), /POST \/v1\/inferences:batch: no answer in time, 2 attempts/);
    assert.equal(requests(), 2);
  });

  test('429 after the last retry is the answer: postBatch reports it', async () => {
    const { baseUrl, bodies } = await server((_n, _request, response) => {
      response.writeHead(429, { 'retry-after': '0', 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'QUEUE_FULL', message: 'the queue is full' } }));
    });
    const client = new IngestClient({ baseUrl, token: 't', retries: 2, backoffMs: 1 });
    await assert.rejects(client.postBatch(records), /answered 429: the queue is full/);
    assert.equal(bodies.length, 3);
  });

  test('records answered 409 INFERENCE_IN_PROGRESS are posted again alone, and their new answers land at their own indexes', async () => {
    const three = ['a', 'b', 'c'].map((id) => ({ ...records[0], id }));
    const { baseUrl, bodies } = await server((n, _request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const busy = { error: { code: 'INFERENCE_IN_PROGRESS', message: 'another request is accepting it' } };
      const results =
        n === 0
          ? [{ index: 0, id: 'a', status: 'queued' }, { index: 1, id: 'b', ...busy }, { index: 2, id: 'c', error: { code: 'IMAGE_URI_INVALID', message: 'bad key' } }]
          : [{ index: 0, id: 'b', status: 'queued', duplicate: true }];
      response.end(JSON.stringify({ accepted: n === 0 ? 1 : 1, rejected: n === 0 ? 2 : 0, results }));
    });
    const retries: string[] = [];
    const client = new IngestClient({ baseUrl, token: 't', backoffMs: 1, onRetry: (reason) => retries.push(reason) });
    const result = await client.postBatch(three);
    assert.deepEqual(retries, ['1 of 3 records answered INFERENCE_IN_PROGRESS']);
    assert.equal(bodies.length, 2);
    assert.deepEqual((JSON.parse(bodies[1] as string) as { records: { id: string }[] }).records.map((r) => r.id), ['b']);
    assert.deepEqual(result.results.map((r) => [r.index, r.id, r.status ?? r.error?.code]), [[0, 'a', 'queued'], [1, 'b', 'queued'], [2, 'c', 'IMAGE_URI_INVALID']]);
    // b was accepted by the request that held it: the retry's answer is a duplicate, counted as the server counts it.
    assert.deepEqual([result.accepted, result.duplicates, result.rejected], [2, 1, 1]);
  });

  test('a record answered 409 ID_REUSED (its id accepted before with other content) is not posted again: its answer is final', async () => {
    const two = ['a', 'b'].map((id) => ({ ...records[0], id }));
    const { baseUrl, bodies } = await server((_n, _request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const reused = { error: { code: 'ID_REUSED', message: '"b" was accepted at 2026-01-01T00:00:00.000Z with other content', details: { differs: ['image'] } } };
      response.end(JSON.stringify({ accepted: 1, duplicates: 0, rejected: 1, results: [{ index: 0, id: 'a', status: 'queued' }, { index: 1, id: 'b', ...reused }] }));
    });
    const retries: string[] = [];
    const result = await new IngestClient({ baseUrl, token: 't', backoffMs: 1, onRetry: (reason) => retries.push(reason) }).postBatch(two);
    assert.deepEqual([bodies.length, retries], [1, []]);
    assert.deepEqual(result.results.map((r) => [r.id, r.status ?? r.error?.code]), [['a', 'queued'], ['b', 'ID_REUSED']]);
  });

  test('records answered 503 ACCEPT_INCOMPLETE one by one (stored, their ids not recorded, or their jobs not confirmed) are posted again, and the retry completes them', async () => {
    const { baseUrl, bodies } = await server((n, _request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const incomplete = { error: { code: 'ACCEPT_INCOMPLETE', message: 'the records were stored and queued but their ids could not be recorded; retry…', retryAfter: 0 } };
      const results = n === 0 ? [{ index: 0, id: 'a', ...incomplete }] : [{ index: 0, id: 'a', status: 'queued' }];
      response.end(JSON.stringify({ accepted: n === 0 ? 0 : 1, rejected: n === 0 ? 1 : 0, results }));
    });
    const client = new IngestClient({ baseUrl, token: 't', backoffMs: 1 });
    const result = await client.postBatch(records);
    assert.equal(bodies.length, 2);
    assert.equal(result.results[0]?.status, 'queued');
  });

  test('records answered with a retryAfter (workers still starting) are posted again after that wait, not the short backoff', async () => {
    const { baseUrl, bodies } = await server((n, _request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const results = n === 0 ? [{ index: 0, id: 'a', error: { code: 'MODELS_NOT_ANNOUNCED', message: 'workers starting', retryAfter: 1 } }] : [{ index: 0, id: 'a', status: 'queued' }];
      response.end(JSON.stringify({ accepted: n === 0 ? 0 : 1, rejected: n === 0 ? 1 : 0, results }));
    });
    const waits: number[] = [];
    const client = new IngestClient({ baseUrl, token: 't', backoffMs: 1, onRetry: (_reason, waitMs) => waits.push(waitMs) });
    const result = await client.postBatch(records);
    assert.deepEqual(waits, [1_000]);
    assert.equal(bodies.length, 2);
    assert.equal(result.results[0]?.status, 'queued');
  });

  test('a refused connection fails at once, with the cause the demo recognises', async () => {
    // A port that was just free: listen on it, then close it again.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const client = new IngestClient({ baseUrl: closed, token: 't', backoffMs: 1_000 });
    const started = performance.now();
    await assert.rejects(client.postBatch(records), (error: unknown) => (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED');
    assert.ok(performance.now() - started < 900, 'no backoff wait before failing');
  });
});

describe('IngestClient answers', () => {
  test('a request refused as a whole is an IngestAnswerError with its status and code', async () => {
    const { baseUrl } = await server((_n, _request, response) => {
      response.writeHead(413, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'BODY_TOO_LARGE', message: 'the request body exceeds 1024 bytes' } }));
    });
    const client = new IngestClient({ baseUrl, token: 't' });
    await assert.rejects(client.postBatch(records), (error: unknown) => error instanceof IngestAnswerError && error.status === 413 && error.code === 'BODY_TOO_LARGE');
  });

  test('waitForAll waits once for an id given twice, and returns when it is done', async () => {
    const { baseUrl, bodies } = await server((_n, _request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 'a', status: 'done', folder: 'm/v/a/' }));
    });
    const client = new IngestClient({ baseUrl, token: 't' });
    const finished = await client.waitForAll(['a', 'a'], 2_000);
    assert.deepEqual([...finished.keys()], ['a']);
    assert.equal(bodies.length, 1, 'one status request');
  });
});
