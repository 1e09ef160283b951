import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBearerAuth } from './bearer-tokens.ts';

test('a known bearer token resolves to its identity; anything else to undefined', () => {
  const auth = createBearerAuth(new Map([['alice-token-0123456789', 'alice'], ['bob-token-0123456789', 'bob']]));
  assert.equal(auth('Bearer alice-token-0123456789'), 'alice');
  assert.equal(auth('bearer   bob-token-0123456789 '), 'bob');
  for (const header of [undefined, '', 'Bearer', 'Bearer alice-token-012345678', 'Basic alice-token-0123456789', 'Bearer alice-token-0123456789 extra']) {
    assert.equal(auth(header), undefined, String(header));
  }
});

test('a Latin-1 token sent over HTTP (one byte per character, read back as latin1) resolves; one past U+00FF never can', async () => {
  const { createServer, request } = await import('node:http');
  const latin = 'secret-tökén-0123456789';
  const auth = createBearerAuth(new Map([[latin, 'alice']]));
  const server = createServer((req, res) => res.end(String(auth(req.headers.authorization))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const send = (token: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
  try {
    assert.equal(await send(latin), 'alice');
    // A header cannot carry '€' (U+20AC) at all: Node's client refuses to send it.
    await assert.rejects(send('secret-t€ken-0123456789'), { code: 'ERR_INVALID_CHAR' });
  } finally {
    server.close();
  }
});
