import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { AddressInfo, Socket } from 'node:net';
import Fastify from 'fastify';
import { ApiError, registerOperationalRoutes, registerServiceDefaults, requestErrorAnswer, sendApiError, serviceServerOptions } from './index.ts';
import { type StreamedRequest, streamRequest } from './testing/index.ts';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const bodyLimit = MiB;
/** What the server may read of a body it never asked for: its stream buffers (about 100 KB), far from the gigabytes Node drained. */
const boundedRead = MiB;

/**
 * An app with the service defaults and routes that answer without reading the body: 403 from an
 * onRequest hook, 429 from a handler whose body is a stream it never reads (as ingest's QUEUE_FULL
 * before a multipart upload), and /drain, whose handler reads the rest of the body and drops it (as
 * ingest does for a refused multipart upload of declared length). `bytesRead` is what the server
 * read from each connection, counted as each closes.
 */
async function listening() {
  const app = Fastify({ ...serviceServerOptions({ bodyLimit }), logger: false });
  registerServiceDefaults(app);
  app.setErrorHandler(async (error, _request, reply) => sendApiError(reply, error instanceof ApiError ? error : (requestErrorAnswer(error, bodyLimit) ?? new ApiError(500, 'INTERNAL', 'internal'))));
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
  app.post('/forbidden', { onRequest: async () => { throw new ApiError(403, 'FORBIDDEN', 'no'); } }, async () => ({ ok: true }));
  app.post('/busy', async () => {
    throw new ApiError(429, 'QUEUE_FULL', 'retry later', undefined, 10);
  });
  app.post('/drain', async (request) => {
    request.raw.resume();
    throw new ApiError(400, 'REFUSED', 'refused, the rest of the body dropped');
  });
  registerOperationalRoutes(app, { scrape: async () => ({ contentType: 'text/plain', body: 'x 1\n' }) });
  const bytesRead: number[] = [];
  app.server.on('connection', (socket: Socket) => socket.once('close', () => bytesRead.push(socket.bytesRead)));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as AddressInfo).port, bytesRead };
}

/**
 * A POST of an endless body (a stream, 64 KiB at a time) with fetch, from another process (in this
 * one, the server and the client share an event loop, and the client always read in time): the
 * answer's status, Connection header and error code, or the error that ended it, and the bytes
 * the client had handed fetch.
 */
async function streamingFetch(port: number, path: string): Promise<{ answer?: unknown; error?: string; sent: number }> {
  const script = `
    let sent = 0;
    const block = new Uint8Array(64 * 1024);
    const body = new ReadableStream({ pull: (controller) => { sent += block.length; controller.enqueue(block); } });
    try {
      const response = await fetch(process.argv[1], { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'application/octet-stream' } });
      const { error } = await response.json();
      console.log(JSON.stringify({ answer: { status: response.status, connection: response.headers.get('connection'), code: error.code }, sent }));
    } catch (error) {
      console.log(JSON.stringify({ error: String(error.cause?.code ?? error), sent }));
    }
    process.exit(0);`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, `http://127.0.0.1:${port}${path}`], { timeout: 10_000 });
  return JSON.parse(stdout) as { answer?: unknown; error?: string; sent: number };
}

const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);

/** Waits for the server to close `client`'s connection (at most 3 s) and says what it read of it. */
async function closedByServer(client: StreamedRequest, server: { bytesRead: number[] }, label: string) {
  const closed = await within(client.closed, 3_000);
  assert.ok(closed, `${label}: the server closed the connection (the client had sent ${client.sentBytes()} bytes)`);
  assert.match(closed.answer, /\r\nconnection: close\r\n/i, label);
  // The server's side closes once its linger is over, after the client has seen the end.
  for (const stop = Date.now() + 3_000; server.bytesRead.length === 0 && Date.now() < stop; ) await new Promise((resolve) => setTimeout(resolve, 10));
  const read = server.bytesRead.shift() ?? Infinity;
  assert.ok(read < boundedRead, `${label}: the server read ${read} bytes of a body nobody asked for`);
  return closed;
}

describe('a request answered before its body was read', () => {
  test('is answered with Connection: close and not read further, whatever the status: an unknown route, /healthz, a 403, a 429 before the body is read, a declared length of 10 GB', async () => {
    const server = await listening();
    const cases: [string, string, Parameters<typeof streamRequest>[2], number][] = [
      ['POST /nope, chunked', '/nope', {}, 404],
      ['POST /nope, chunked JSON', '/nope', { headers: { 'content-type': 'application/json' } }, 404],
      ['GET /healthz, chunked', '/healthz', { method: 'GET' }, 200],
      ['POST /forbidden (403 on onRequest)', '/forbidden', { headers: { 'content-type': 'application/json' } }, 403],
      ['POST /busy (429 before the stream is read)', '/busy', { headers: { 'content-type': 'application/octet-stream' } }, 429],
      ['POST /nope, 10 GB declared', '/nope', { headers: { 'content-type': 'application/octet-stream' }, declaredBytes: 10 * 1024 * MiB }, 404],
      ['POST /forbidden, 512 KiB declared', '/forbidden', { headers: { 'content-type': 'application/json' }, declaredBytes: 512 * KiB }, 403],
    ];
    try {
      for (const [label, path, options, status] of cases) {
        const client = streamRequest(server.port, path, options);
        try {
          const answer = await within(client.answered, 3_000);
          assert.ok(answer, `${label}: answered`);
          assert.equal(answer.status, status, `${label}: ${answer.body}`);
          await closedByServer(client, server, label);
        } finally {
          client.stop();
        }
      }
    } finally {
      await server.app.close();
    }
  });

  test('a client in another process streaming its body with fetch gets the answer: it was reset, its next write failing with EPIPE before it read it', async () => {
    const server = await listening();
    try {
      for (const [path, status, code] of [['/nope', 404, 'ROUTE_NOT_FOUND'], ['/healthz', 405, 'METHOD_NOT_ALLOWED']] as const) {
        const outcome = await streamingFetch(server.port, path);
        assert.deepEqual(outcome.answer, { status, connection: 'close', code }, `POST ${path}: ${JSON.stringify(outcome)}`);
        assert.ok(outcome.sent < 64 * MiB, `the client was held, not drained: it sent ${outcome.sent} bytes`);
      }
    } finally {
      await server.app.close();
    }
  });

  test("close() (SIGTERM) completes within the linger (1 s) while such a client still sends", async () => {
    const server = await listening();
    const client = streamRequest(server.port, '/nope', { headers: { 'content-type': 'application/octet-stream' } });
    try {
      assert.equal((await client.answered).status, 404);
      const closing = Date.now();
      assert.ok(await within(server.app.close().then(() => true), 5_000), `close() still waits after ${Date.now() - closing} ms (the client sent ${client.sentBytes()} bytes)`);
      assert.ok(Date.now() - closing < 3_000, `close() took ${Date.now() - closing} ms`);
    } finally {
      client.stop();
      await server.app.close();
    }
  });

  test('a small body keeps its connection (its rest is read and dropped), and so does a body of declared length within the limit that the route chose to read and drop', async () => {
    const server = await listening();
    try {
      const base = `http://127.0.0.1:${server.port}`;
      for (const [label, url, init, status] of [
        ['a 404 with a small JSON body', '/nope', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' }, 404],
        ['a 403 with a small JSON body', '/forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, 403],
        ['/healthz', '/healthz', {}, 200],
      ] as const) {
        const response = await fetch(`${base}${url}`, init);
        assert.equal(response.status, status, label);
        assert.equal(response.headers.get('connection'), 'keep-alive', label);
        await response.arrayBuffer();
      }
      // 768 KiB declared and sent: the route answers before it has all arrived, then reads the rest.
      const client = streamRequest(server.port, '/drain', { headers: { 'content-type': 'application/octet-stream' }, declaredBytes: 768 * KiB });
      try {
        const answer = await client.answered;
        assert.equal(answer.status, 400, answer.body);
        assert.doesNotMatch(answer.head, /\r\nconnection: close/i);
      } finally {
        client.stop();
      }
    } finally {
      await server.app.close();
    }
  });
});
