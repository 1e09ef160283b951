import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { test } from 'node:test';
import { RedisServerNotFoundError, startRedisServer } from './redis-server.ts';

function roundTrip(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write(command));
    socket.once('error', reject);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
  });
}

test('starts a private redis-server on a free port and stops it', async () => {
  const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  try {
    assert.notEqual(a.port, b.port);
    assert.equal(await roundTrip(a.port, 'SET k 1\r\n'), '+OK\r\n');
    assert.equal(await roundTrip(b.port, 'GET k\r\n'), '$-1\r\n', 'the two servers share nothing');
    assert.match(await roundTrip(a.port, 'CONFIG GET maxmemory-policy\r\n'), /noeviction/);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
  await assert.rejects(roundTrip(a.port, 'PING\r\n'), /ECONNREFUSED/);
});

test('a missing executable is one clear error saying how to get Redis', async () => {
  await assert.rejects(startRedisServer({ executable: 'redis-server-that-does-not-exist' }), (error: unknown) => {
    assert.ok(error instanceof RedisServerNotFoundError);
    assert.match(error.message, /apt-get install -y redis-server/);
    return true;
  });
});
