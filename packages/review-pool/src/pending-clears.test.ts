import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startRedisWithClient } from '@gradcam/dev-services';
import { Redis } from 'ioredis';
import { PendingClears } from './pending-clears.ts';

// The clears wait for a real 'ready' (the connection dropped and reconnected by ioredis), and each
// "clear" here pushes its name on a list of its own, so the test reads what was sent, in order.
const { server, stop } = await startRedisWithClient();
const connection = new Redis(server.url);
// The test drops it on purpose; what ioredis reports meanwhile is expected.
connection.on('error', () => {});
await new Promise((resolve) => connection.once('ready', resolve));
after(async () => {
  connection.disconnect();
  await stop();
});

async function reconnect(): Promise<void> {
  const ready = new Promise((resolve) => connection.once('ready', resolve));
  connection.disconnect(true);
  await ready;
}

function setUp(limit?: number) {
  const list = `sent-${Math.random().toString(36).slice(2, 10)}`;
  const clears = new PendingClears(connection, limit);
  const clear = (name: string, until = Date.now() + 60_000) => ({ send: () => connection.rpush(list, name), until });
  return { clears, clear, sent: () => connection.lrange(list, 0, -1) };
}

test("clears are sent on the next 'ready', in order, once; past the limit the oldest is dropped, and one past its time is never sent", async () => {
  const { clears, clear, sent } = setUp(2);
  const listeners = connection.listenerCount('ready');
  clears.add('a', clear('a'));
  clears.add('late', clear('late', Date.now() - 1));
  clears.add('b', clear('b'));
  clears.add('c', clear('c'));
  assert.equal(clears.size, 2);
  await reconnect();
  assert.deepEqual(await sent(), ['b', 'c']);
  assert.equal(clears.size, 0);
  assert.equal(connection.listenerCount('ready'), listeners, 'it stops listening once nothing waits');
  await reconnect();
  assert.deepEqual(await sent(), ['b', 'c'], 'sent once');
});

test("a clear that fails again waits for the following 'ready'", async () => {
  const { clears, sent } = setUp();
  let tries = 0;
  const send = () => (++tries === 1 ? Promise.reject(new Error('Connection is closed.')) : connection.rpush('again', String(tries)));
  await connection.del('again');
  clears.add('x', { send, until: Date.now() + 60_000 });
  await reconnect();
  assert.equal(clears.size, 1);
  await reconnect();
  assert.equal(clears.size, 0);
  assert.deepEqual(await connection.lrange('again', 0, -1), ['2']);
  assert.deepEqual(await sent(), []);
});

test("close forgets what waits and stops listening (nothing left to wait on); twice is fine, and later clears are not kept", async () => {
  const { clears, clear, sent } = setUp();
  const listeners = connection.listenerCount('ready');
  clears.add('a', clear('a'));
  assert.equal(connection.listenerCount('ready'), listeners + 1);
  clears.close();
  clears.close();
  clears.add('b', clear('b'));
  assert.equal(clears.size, 0);
  assert.equal(connection.listenerCount('ready'), listeners);
  await reconnect();
  assert.deepEqual(await sent(), []);
});
