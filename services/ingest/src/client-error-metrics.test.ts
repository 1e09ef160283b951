import assert from 'node:assert/strict';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { type IngestHarness, createIngestHarness, testToken } from './test-support/ingest-harness.ts';

// What Node's HTTP server answers itself, before Fastify routes the request (a malformed request,
// headers over 16 KiB, a request past requestTimeout), reaches none of the app's hooks: the
// onResponse hook that counts gradcam_ingest_http_requests_total never saw them. Sent here over
// raw TCP to a listening ingest, as a client (or a scanner) would.

let redis: RedisServer;
let h: IngestHarness;
let port: number;

before(async () => {
  redis = await startRedisServer();
  // A short requestTimeout, looked for every 50 ms, so the 408 comes within a second.
  h = await createIngestHarness({ redisUrl: redis.url, timeouts: { requestTimeout: 500, connectionTimeout: 5_000, checkIntervalMs: 50 } });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as AddressInfo).port;
});

after(async () => {
  await h?.close();
  await redis?.stop();
});

/** Sends `text` on a new connection and returns all it got back once the server closed it. */
function exchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.write(text);
  });
}

const scrape = async () => (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
const series = (text: string, route: string) =>
  Object.fromEntries([...text.matchAll(/^gradcam_ingest_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)$/gm)].filter((m) => m[1] === route).map((m) => [m[2], Number(m[3])]));

test('a malformed request (400), headers too large (431) and a request past requestTimeout (408) are counted under route "(client-error)", exported at 0 before the first; no route counts them', async () => {
  const before = await scrape();
  assert.deepEqual(series(before, '(client-error)'), { 400: 0, 408: 0, 431: 0 }, 'at 0 before the first');
  const recordRoute = series(before, '/v1/inferences');

  const answers = [
    await exchange('GARBAGE\r\n\r\n'),
    await exchange('POST /v1/inferences HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'),
    await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    // A record whose headers (the token passes) arrive and whose body never does: cut at requestTimeout.
    await exchange(`POST /v1/inferences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${testToken}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":`),
  ];
  assert.deepEqual(answers.map((a) => a.split('\r\n')[0]), [
    'HTTP/1.1 400 Bad Request',
    'HTTP/1.1 400 Bad Request',
    'HTTP/1.1 431 Request Header Fields Too Large',
    'HTTP/1.1 408 Request Timeout',
  ]);
  const after = await scrape();
  assert.deepEqual(series(after, '(client-error)'), { 400: 2, 408: 1, 431: 1 });
  // The 408'd record reached Fastify's router but no hook: its route counts nothing for it.
  assert.deepEqual(series(after, '/v1/inferences'), recordRoute);
  // Nor does "unmatched" (exported at 0): none of them was routed.
  assert.match(after, /^gradcam_ingest_http_requests_total\{route="unmatched",status="404"\} 0$/m);
  assert.match(after, /^gradcam_ingest_http_requests_total\{route="unmatched",status="405"\} 0$/m);
  assert.doesNotMatch(after, /route="unmatched",status="(?!40[45]")/);
  assert.doesNotMatch(after, /gradcam_ingest_http_request_duration_seconds_count\{route="\(client-error\)"\}/, 'no duration: the app never held the request');
});

// Node answers an HTTP/1.1 request without Host itself (its requireHostHeader) with a bare 400: no
// body, no code, nothing saying what was wrong, counted nowhere. A hand-written client (a device's
// firmware, a script over a raw socket) that leaves Host out learnt nothing from it.
test('an HTTP/1.1 request without Host is 400 REQUEST_MALFORMED in the error shape, naming Host, with Connection: close; nothing of its record is accepted; HTTP/1.0 needs none', async () => {
  const record = JSON.stringify({ id: 'no-host', model: { name: 'nsfw-mobilenet-v2' }, image: { uri: 's3://local/uploads/none.jpg' } });
  const answer = await exchange(`POST /v1/inferences HTTP/1.1\r\nAuthorization: Bearer ${testToken}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(record)}\r\n\r\n${record}`);
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  assert.equal(head.split('\r\n')[0], 'HTTP/1.1 400 Bad Request', answer);
  assert.match(head, /\r\nconnection: close/i);
  assert.match(head, /\r\nx-request-id: /i, 'answered by the app: the request id is there to quote');
  assert.deepEqual(JSON.parse(body), { error: { code: 'REQUEST_MALFORMED', message: 'the request is not valid HTTP/1.1: it has no Host header (RFC 9112 §3.2); send "Host: <host>:<port>", the address it is sent to' } });
  assert.equal(await h.queue.getJob('no-host'), undefined);
  const healthz = await exchange('GET /healthz HTTP/1.0\r\n\r\n');
  assert.equal(healthz.split('\r\n')[0], 'HTTP/1.1 200 OK', 'HTTP/1.0 has no Host to require');
});
