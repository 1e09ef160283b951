import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxHeaderSize } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import Fastify from 'fastify';
import { registerOperationalRoutes, registerServiceDefaults, serviceServerOptions } from './index.ts';

/** Writes `raw` on a new connection and collects all the server sends until it closes the connection (at most 3 s). */
function exchange(port: number, raw: string) {
  return new Promise<{ closed: boolean; status: number; head: string; body: string }>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => {});
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const headEnd = answer.indexOf('\r\n\r\n');
      resolve({ closed, status: Number(answer.split(' ')[1]), head: answer.slice(0, headEnd + 2), body: answer.slice(headEnd + 4) });
    };
    const timer = setTimeout(() => done(false), 3_000);
    socket.once('close', () => done(true));
    socket.write(raw);
  });
}

test("requests Node's HTTP parser refuses are answered in the API error shape with stable codes and Connection: close, and the connection closed", async () => {
  const app = Fastify({ ...serviceServerOptions(), logger: false });
  registerServiceDefaults(app);
  registerOperationalRoutes(app, { scrape: async () => ({ contentType: 'text/plain', body: 'x 1\n' }) });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  try {
    for (const [label, raw, status, code, message] of [
      ['headers over the limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(maxHeaderSize + 1)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE', `the request line and headers exceed ${maxHeaderSize} bytes; send fewer or shorter headers`],
      ['a garbage request line', 'HELLO THERE\r\n\r\n', 400, 'REQUEST_MALFORMED', /^the request is not valid HTTP\/1\.1: .+/],
      ['a Content-Length that is not a number', 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'REQUEST_MALFORMED', /^the request is not valid HTTP\/1\.1: .+/],
      ['Content-Length and Transfer-Encoding together', 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'REQUEST_MALFORMED', /^the request is not valid HTTP\/1\.1: .+/],
    ] as const) {
      const answer = await exchange(port, raw);
      assert.equal(answer.status, status, `${label}: ${answer.head}`);
      assert.ok(answer.closed, `${label}: the server closed the connection`);
      assert.match(answer.head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/, label);
      assert.match(answer.head, /\r\nconnection: close\r\n/, label);
      assert.match(answer.head, /\r\nx-content-type-options: nosniff\r\n/, label);
      const { error } = JSON.parse(answer.body) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(JSON.parse(answer.body) as object), ['error'], label);
      assert.equal(error.code, code, label);
      if (typeof message === 'string') assert.equal(error.message, message, label);
      else assert.match(error.message, message, label);
    }
    // The server serves the next connection as ever.
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
  } finally {
    await app.close();
  }
});
