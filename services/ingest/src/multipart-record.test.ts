import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { serverTimeouts, slowestUploadBytesPerSecond } from '@gradcam/http-service';
import { maxRecordPartBytes } from './multipart-record.ts';
import { type IngestHarness, auth, createIngestHarness } from './test-support/ingest-harness.ts';

// Multipart uploads over real connections: what a refused upload does to its socket, and how much
// of a body over the limit is read, are invisible to app.inject (it hands the app the whole body).

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const MiB = 1024 * 1024;
const boundary = 'gradcam-boundary';
const multipartType = `multipart/form-data; boundary=${boundary}`;
const recordJson = (id: string) => JSON.stringify({ id, model: { name: 'nsfw-mobilenet-v2' } });
const field = (name: string, value: string, headers = '') => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n${headers}\r\n${value}\r\n`);
const filePart = (name: string, data: Buffer) =>
  Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), data, Buffer.from('\r\n')]);
const closing = Buffer.from(`--${boundary}--\r\n`);
const chunk = (data: Buffer) => Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(20)) if (await condition()) return true;
  return condition();
}

/** One raw connection to the app: everything it answered, and whether the server ended it. */
interface Connection {
  readonly socket: net.Socket;
  answers(): string[];
  text(): string;
  ended(): boolean;
}

async function connect(port: number): Promise<Connection> {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let ended = false;
  socket.on('data', (data: Buffer) => (text += data.toString('latin1')));
  socket.on('end', () => (ended = true));
  socket.on('close', () => (ended = true));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, answers: () => text.match(/HTTP\/1\.1 \d{3}/g) ?? [], text: () => text, ended: () => ended };
}

const postHead = (headers: Record<string, string | number>) =>
  `POST /v1/inferences HTTP/1.1\r\nHost: ingest\r\nAuthorization: ${auth.authorization}\r\nContent-Type: ${multipartType}\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

/** Streams chunks of `data` (chunked encoding) until the server answers and closes, or `limit` bytes are sent. */
async function streamUntilClosed(connection: Connection, data: Buffer, limit: number): Promise<number> {
  let sent = 0;
  while (!connection.ended() && sent < limit) {
    sent += data.length;
    if (!connection.socket.write(chunk(data))) {
      await Promise.race([new Promise((resolve) => connection.socket.once('drain', resolve)), until(connection.ended, 10_000)]);
    }
  }
  return sent;
}

let redis: RedisServer;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis.stop();
});

/** A harness listening on a free port, with the server side of each connection kept (for bytesRead). */
async function listening(maxBodyBytes: number) {
  const h = await createIngestHarness({ redisUrl: redis.url, maxBodyBytes });
  const serverSockets: net.Socket[] = [];
  h.app.server.on('connection', (socket: net.Socket) => serverSockets.push(socket));
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = h.app.server.address() as net.AddressInfo;
  const openConnections = () => new Promise<number>((resolve) => h.app.server.getConnections((_error, count) => resolve(count)));
  return { h, port, serverSockets, openConnections };
}

describe('a refused multipart upload never holds its connection', () => {
  let server: Awaited<ReturnType<typeof listening>>;
  before(async () => {
    server = await listening(64 * MiB);
  });
  after(() => server.h.close());

  test('with a declared length the rest of the body is read and dropped: keep-alive serves the next request, and a client that leaves is noticed', async () => {
    const big = Buffer.concat([photo, Buffer.alloc(16 * MiB)]);
    const cases: [string, Buffer][] = [
      ['a record that is not JSON, then the image', Buffer.concat([field('record', '{not json'), filePart('image', big), closing])],
      ['an unexpected file field', Buffer.concat([field('record', recordJson('conn-other')), filePart('other', big), closing])],
      ['a second record field, then the image', Buffer.concat([field('record', recordJson('conn-two')), field('record', recordJson('conn-two-b')), filePart('image', big), closing])],
      ['a record file over its limit, then the image', Buffer.concat([filePart('record', Buffer.alloc(2 * MiB, ' ')), filePart('image', big), closing])],
    ];
    for (const [label, body] of cases) {
      const connection = await connect(server.port);
      let written = false;
      connection.socket.write(postHead({ 'Content-Length': body.length }));
      connection.socket.write(body, () => (written = true));
      assert.ok(await until(() => connection.answers().length === 1, 5_000), `${label}: answered`);
      assert.match(connection.text(), /^HTTP\/1\.1 400 .*"code":"MULTIPART_INVALID"/s, label);
      assert.ok(await until(() => written, 5_000), `${label}: the server reads the rest of the body`);
      connection.socket.write(`GET /v1/inferences/conn-none HTTP/1.1\r\nHost: ingest\r\nAuthorization: ${auth.authorization}\r\n\r\n`);
      assert.ok(await until(() => connection.answers().length === 2, 5_000), `${label}: the next request on the connection is answered`);
      assert.equal(connection.answers()[1], 'HTTP/1.1 404', label);
      connection.socket.destroy();
      assert.ok(await until(async () => (await server.openConnections()) === 0, 2_000), `${label}: the server lets go of the connection once the client does`);
    }
  });

  test('without a declared length (chunked) the connection is closed after the answer, and the rest is not read', async () => {
    const connection = await connect(server.port);
    connection.socket.write(postHead({ 'Transfer-Encoding': 'chunked' }));
    connection.socket.write(chunk(Buffer.concat([field('record', recordJson('conn-chunked')), filePart('other', photo).subarray(0, -2)])));
    const sent = await streamUntilClosed(connection, Buffer.alloc(64 * 1024), 256 * MiB);
    assert.ok(connection.ended(), `the server closed the connection (the client sent ${sent} bytes)`);
    assert.match(connection.text(), /^HTTP\/1\.1 400 .*\r\nconnection: close\r\n.*"code":"MULTIPART_INVALID"/is);
    const serverSide = server.serverSockets.at(-1);
    assert.ok(serverSide && serverSide.bytesRead < 8 * MiB, `the server read ${serverSide?.bytesRead} bytes`);
  });

  test('a client that stops sending, or a socket left unread, does not hold a connection for ever', async () => {
    const expected = serverTimeouts(64 * MiB);
    assert.equal(server.h.app.server.requestTimeout, expected.requestTimeout);
    assert.ok(expected.requestTimeout >= ((64 * MiB) / slowestUploadBytesPerSecond) * 1000, 'a slow upload of the largest body still fits');
    assert.ok(server.h.app.server.requestTimeout < 3_600_000);
    assert.equal(server.h.app.server.timeout, expected.connectionTimeout);
    assert.ok(expected.connectionTimeout > 0 && expected.connectionTimeout <= 10 * 60_000);
  });
});

describe('the body limit is counted as the body streams', () => {
  let server: Awaited<ReturnType<typeof listening>>;
  before(async () => {
    server = await listening(MiB);
  });
  after(() => server.h.close());

  const limitSlack = 2 * MiB;

  test('a preamble before the first part, or an epilogue after the last, is refused as soon as it passes the limit, and the connection closed', async () => {
    const cases: [string, Buffer][] = [
      ['a preamble', Buffer.alloc(0)],
      ['an epilogue', Buffer.concat([field('record', recordJson('limit-epilogue')), filePart('image', photo), closing])],
    ];
    for (const [label, opening] of cases) {
      const connection = await connect(server.port);
      connection.socket.write(postHead({ 'Transfer-Encoding': 'chunked' }));
      if (opening.length > 0) connection.socket.write(chunk(opening));
      const sent = await streamUntilClosed(connection, Buffer.alloc(64 * 1024, 'x'), 64 * MiB);
      assert.ok(connection.ended(), `${label}: the server closed the connection (the client sent ${sent} bytes)`);
      assert.match(connection.text(), /^HTTP\/1\.1 413 .*\r\nconnection: close\r\n.*"code":"BODY_TOO_LARGE"/is, label);
      const serverSide = server.serverSockets.at(-1);
      assert.ok(serverSide && serverSide.bytesRead < MiB + limitSlack, `${label}: the server read ${serverSide?.bytesRead} bytes of a 1 MiB limit`);
    }
    assert.equal(await server.h.queue.getJob('limit-epilogue'), undefined);
  });

  test('a declared length over the body limit is refused before any of the body is read, whatever the image limit', async () => {
    const big = await listening(64 * MiB);
    try {
      const connection = await connect(big.port);
      connection.socket.write(postHead({ 'Content-Length': 64 * MiB + 1 }));
      connection.socket.write(field('record', recordJson('limit-declared')));
      assert.ok(await until(() => connection.ended(), 5_000), 'answered and closed without waiting for the body');
      assert.match(connection.text(), /^HTTP\/1\.1 413 .*\r\nconnection: close\r\n.*"code":"BODY_TOO_LARGE"/is);
    } finally {
      await big.h.close();
    }
  });
});

describe('multipart fields', () => {
  let h: IngestHarness;
  before(async () => {
    h = await createIngestHarness({ redisUrl: redis.url });
  });
  after(() => h.close());

  const upload = (...parts: Buffer[]) =>
    h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': multipartType }, payload: Buffer.concat([...parts, closing]) });

  test('a record part sent as application/json (curl -F "record=…;type=application/json") is the record', async () => {
    const typed = await upload(field('record', recordJson('mp-json-typed'), 'Content-Type: application/json\r\n'), filePart('image', photo));
    assert.equal(typed.statusCode, 202, typed.body);
    const job = await h.queue.getJob('mp-json-typed');
    assert.deepEqual(await h.store.get(`${job?.data.folder}input.jpg`), photo);
    const broken = await upload(field('record', '{not json', 'Content-Type: application/json\r\n'), filePart('image', photo));
    assert.deepEqual([broken.statusCode, broken.json<{ error: { code: string } }>().error.code], [400, 'MULTIPART_INVALID']);
    assert.match(broken.body, /not valid JSON/);
  });

  test('one record field and one image file: a second record, or any other field, is MULTIPART_INVALID naming it', async () => {
    const cases: [Buffer[], RegExp][] = [
      [[field('record', recordJson('mp-first')), field('record', recordJson('mp-second')), filePart('image', photo)], /second \\"record\\" \(field or file\)/],
      [[field('record', recordJson('mp-note')), field('note', 'hello'), filePart('image', photo)], /unexpected field \\"note\\"/],
      [[field('note', 'hello'), field('record', recordJson('mp-note-first')), filePart('image', photo)], /unexpected field \\"note\\"/],
      [[field('record', '[1, 2]'), filePart('image', photo)], /must hold a JSON object/],
    ];
    for (const [parts, message] of cases) {
      const response = await upload(...parts);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'MULTIPART_INVALID');
      assert.match(response.body, message);
    }
    for (const id of ['mp-first', 'mp-second', 'mp-note', 'mp-note-first']) assert.equal(await h.queue.getJob(id), undefined, id);
  });

  test('a record sent as a file is the record: FormData\'s Blob (filename="blob"), curl -F record=@record.json, Python requests\' files=', async () => {
    // What Node's fetch sends for a FormData, byte for byte (a browser's is the same shape).
    const formData = async (form: FormData) => {
      const request = new Request('http://ingest/v1/inferences', { method: 'POST', body: form });
      return { headers: { ...auth, 'content-type': request.headers.get('content-type') as string }, payload: Buffer.from(await request.arrayBuffer()) };
    };
    const form = new FormData();
    form.append('record', new Blob([recordJson('mp-blob')], { type: 'application/json' }));
    form.append('image', new Blob([photo], { type: 'image/jpeg' }), 'sheep.jpg');
    const sent = await formData(form);
    assert.match(sent.payload.toString('latin1'), /name="record"; filename="blob"/, 'a Blob is sent as a file');
    const viaFormData = await h.app.inject({ method: 'POST', url: '/v1/inferences', ...sent });
    assert.equal(viaFormData.statusCode, 202, viaFormData.body);
    const job = await h.queue.getJob('mp-blob');
    assert.deepEqual(await h.store.get(`${job?.data.folder}input.jpg`), photo);

    const recordFile = (json: string, type: string, filename = 'record.json') =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n${json}\r\n`);
    for (const [id, type] of [['mp-file-json', 'application/json'], ['mp-file-octets', 'application/octet-stream'], ['mp-file-text', 'text/plain']] as const) {
      // Image first, record last: the order of the parts does not matter.
      const response = await upload(filePart('image', photo), recordFile(`\uFEFF${recordJson(id)}`, type));
      assert.equal(response.statusCode, 202, `${type}: ${response.body}`);
      assert.ok(await h.queue.getJob(id), id);
    }
    const notJson = await upload(recordFile('{not json', 'application/json'), filePart('image', photo));
    assert.deepEqual([notJson.statusCode, notJson.json<{ error: { code: string } }>().error.code], [400, 'MULTIPART_INVALID']);
    assert.match(notJson.body, /not valid JSON/);
  });

  test('a record file that is not UTF-8 is 400 BODY_NOT_UTF8 naming the offset of its first bad byte (it was stored with U+FFFD); a UTF-8 one keeps its text', async () => {
    const recordFile = (bytes: Buffer) =>
      Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"; filename="blob"\r\nContent-Type: application/json\r\n\r\n`), bytes, Buffer.from('\r\n')]);
    const json = (id: string) => `{"id":"${id}","model":{"name":"nsfw-mobilenet-v2"},"metadata":{"city":"München"}}`;
    const latin1 = Buffer.from(json('mp-latin1'), 'latin1');
    const refused = await upload(recordFile(latin1), filePart('image', photo));
    assert.equal(refused.statusCode, 400, refused.body);
    assert.deepEqual(refused.json<{ error: { code: string; message: string } }>().error, {
      code: 'BODY_NOT_UTF8',
      message: `the "record" file is not valid UTF-8 (its first bad byte is at offset ${latin1.indexOf(0xfc)}); send UTF-8`,
    });
    assert.equal(await h.queue.getJob('mp-latin1'), undefined);
    const accepted = await upload(recordFile(Buffer.from(json('mp-utf8'))), filePart('image', photo));
    assert.equal(accepted.statusCode, 202, accepted.body);
    const job = await h.queue.getJob('mp-utf8');
    const prediction = JSON.parse((await h.store.get(`${job?.data.folder}prediction.json`)).toString('utf8')) as { metadata: unknown };
    assert.deepEqual(prediction.metadata, { city: 'München' });
  });

  test('a record part over 1 MiB, as a file or a field, is refused saying so; two images, two records or a third file are refused naming the part', async () => {
    const padding = ' '.repeat(maxRecordPartBytes);
    const recordFile = (json: string) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n${json}\r\n`);
    const cases: [Buffer[], RegExp][] = [
      [[recordFile(`${recordJson('mp-big-file')}${padding}`), filePart('image', photo)], /the \\"record\\" part is over 1048576 bytes \(1 MiB\)/],
      [[field('record', `${recordJson('mp-big-field')}${padding}`), filePart('image', photo)], /the \\"record\\" part is over 1048576 bytes \(1 MiB\)/],
      // A third file: busboy's file limit may trip before the second image is read.
      [[recordFile(recordJson('mp-two-images')), filePart('image', photo), filePart('image', photo)], /a second \\"image\\" file|at most 2 files: the \\"image\\", and the \\"record\\" when it is sent as a file/],
      [[field('record', recordJson('mp-two-images-b')), filePart('image', photo), filePart('image', photo)], /a second \\"image\\" file/],
      [[recordFile(recordJson('mp-two-records')), field('record', recordJson('mp-two-records-b')), filePart('image', photo)], /a second \\"record\\"/],
      [[field('record', recordJson('mp-two-records-c')), recordFile(recordJson('mp-two-records-d')), filePart('image', photo)], /a second \\"record\\"/],
      [[recordFile(recordJson('mp-other-file')), filePart('image', photo), filePart('other', photo)], /"other"|at most 2 files/],
    ];
    for (const [parts, message] of cases) {
      const response = await upload(...parts);
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'MULTIPART_INVALID');
      assert.match(response.body, message);
    }
    for (const id of ['mp-big-file', 'mp-big-field', 'mp-two-images', 'mp-two-images-b', 'mp-two-records', 'mp-two-records-b', 'mp-two-records-c', 'mp-two-records-d', 'mp-other-file']) {
      assert.equal(await h.queue.getJob(id), undefined, id);
    }
  });

  test('an empty image file is MULTIPART_INVALID "the image file is empty"; a record carrying its own image beside the file is refused, not overwritten', async () => {
    const empty = await upload(field('record', recordJson('mp-empty')), filePart('image', Buffer.alloc(0)));
    assert.equal(empty.statusCode, 400, empty.body);
    assert.deepEqual(empty.json<{ error: { code: string; message: string } }>().error, { code: 'MULTIPART_INVALID', message: 'the image file is empty' });
    for (const image of [{ uri: 's3://local/uploads/other.jpg' }, { base64: photo.toString('base64') }, null]) {
      const own = JSON.stringify({ id: 'mp-own-image', model: { name: 'nsfw-mobilenet-v2' }, image });
      const response = await upload(field('record', own), filePart('image', photo));
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(response.json<{ error: { code: string; message: string } }>().error, {
        code: 'MULTIPART_INVALID',
        message: 'in a multipart upload the image is the file part; leave "image" out of the record',
      });
    }
    for (const id of ['mp-empty', 'mp-own-image']) assert.equal(await h.queue.getJob(id), undefined, id);
  });

  test('each refused upload counts as a rejected record on /metrics, as a schema failure does', async () => {
    const rejected = async () => Number(/^gradcam_ingest_records_total\{outcome="rejected"\} (\d+)$/m.exec((await h.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
    const before = await rejected();
    const refused = [
      await upload(field('record', recordJson('mp-count-a')), field('record', recordJson('mp-count-b')), filePart('image', photo)),
      await upload(filePart('image', photo)),
      await upload(field('record', JSON.stringify({ id: 'bad id!', model: { name: 'nsfw-mobilenet-v2' } })), filePart('image', photo)),
    ];
    assert.deepEqual(refused.map((r) => r.statusCode), [400, 400, 400], refused.map((r) => r.body).join('\n'));
    assert.equal(await rejected(), before + refused.length);
  });
});
