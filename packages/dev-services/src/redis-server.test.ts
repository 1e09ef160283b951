import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
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

test('extra arguments reach redis-server (a Redis without CLIENT, as some managed ones are)', async () => {
  const redis = await startRedisServer({ extraArgs: ['--rename-command', 'CLIENT', ''] });
  try {
    assert.match(await roundTrip(redis.port, 'CLIENT LIST\r\n'), /^-ERR unknown command 'CLIENT'/);
    assert.equal(await roundTrip(redis.port, 'PING\r\n'), '+PONG\r\n');
  } finally {
    await redis.stop();
  }
});

test('runs in its own process group, so a Ctrl-C to its parent’s group misses it, and stops when the parent is SIGKILLed', async () => {
  // The parent, as `gradcam up` would be: it survives SIGINT (it would stop its stack in order).
  const script = `
    import { startRedisServer } from ${JSON.stringify(new URL('./redis-server.ts', import.meta.url).href)};
    process.on('SIGINT', () => {});
    const redis = await startRedisServer();
    console.log(redis.port);
    setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  try {
    const [line] = (await once(createInterface({ input: parent.stdout }), 'line')) as [string];
    const port = Number(line);
    assert.ok(port > 0, `parent printed "${line}"`);
    assert.equal(await roundTrip(port, 'PING\r\n'), '+PONG\r\n');
    // What a terminal's Ctrl-C does: SIGINT to every process of the foreground group.
    process.kill(-(parent.pid as number), 'SIGINT');
    await sleep(300);
    assert.equal(await roundTrip(port, 'PING\r\n'), '+PONG\r\n', 'redis-server did not get the SIGINT');
    process.kill(parent.pid as number, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    let answer: string | Error = '';
    while (Date.now() < deadline) {
      answer = await roundTrip(port, 'PING\r\n').catch((error: unknown) => error as Error);
      if (answer instanceof Error) break;
      await sleep(50);
    }
    assert.ok(answer instanceof Error && /ECONNREFUSED/.test(answer.message), `redis-server outlived its parent: ${String(answer)}`);
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  }
});
