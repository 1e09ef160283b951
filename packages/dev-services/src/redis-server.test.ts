import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { RedisServerStartError } from './redis-server-start-error.ts';
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
    assert.equal(error.name, 'RedisServerNotFoundError');
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
  // Its data folder is the test's: a parent killed by SIGKILL cannot remove one of its own.
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-redis-orphan-'));
  const script = `
    import { startRedisServer } from ${JSON.stringify(new URL('./redis-server.ts', import.meta.url).href)};
    process.on('SIGINT', () => {});
    const redis = await startRedisServer({ dir: ${JSON.stringify(dir)} });
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
    await rm(dir, { recursive: true, force: true });
  }
});

test('a server that cannot start says why in one line, with its data folder, at the first attempt', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-redis-corrupt-'));
  try {
    // A corrupt append-only manifest: Redis refuses to start, and would on any port.
    await mkdir(join(dir, 'appendonlydir'));
    await writeFile(join(dir, 'appendonlydir', 'appendonly.aof.manifest'), 'garbage\n');
    const started = Date.now();
    await assert.rejects(startRedisServer({ appendOnly: true, dir }), (error: unknown) => {
      assert.ok(error instanceof RedisServerStartError, String(error));
      assert.equal(error.reason, 'Invalid AOF manifest file format');
      assert.equal(error.message, `redis-server exited at start (code 1, data folder ${dir}): Invalid AOF manifest file format`);
      return true;
    });
    // Four attempts took over a second here; one takes a few tens of milliseconds.
    assert.ok(Date.now() - started < 1_000, `not retried on other ports (${Date.now() - started} ms)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('exited settles when the server dies after start-up, and lastLine says what it logged last', async () => {
  const redis = await startRedisServer();
  try {
    assert.match(redis.lastLine() ?? '', /Ready to accept connections/);
    process.kill(Number((await roundTrip(redis.port, 'INFO server\r\n')).match(/process_id:(\d+)/)?.[1]), 'SIGKILL');
    assert.equal(await redis.exited, 'code 137');
  } finally {
    await redis.stop();
  }
});

test('a port another process takes first is not mistaken for ours: the start retries on a new port', async () => {
  const work = await mkdtemp(join(tmpdir(), 'gradcam-redis-race-'));
  const taken = join(work, 'taken');
  // What freePort() cannot rule out: between its answer and redis-server's bind, another process
  // (here one that answers every command with +PONG) takes the port. Only the first attempt.
  await writeFile(
    join(work, 'fake.cjs'),
    `const net = require('node:net'); const fs = require('node:fs');
    const server = net.createServer((s) => s.on('data', () => s.write('+PONG\\r\\n')));
    server.listen(Number(process.argv[2]), '127.0.0.1', () => fs.writeFileSync(process.argv[3], process.pid + ' ' + process.argv[2]));
    setTimeout(() => process.exit(0), 60000);`,
  );
  const script = `prev=; for a in "$@"; do [ "$prev" = --port ] && port=$a; prev=$a; done
    if [ ! -e '${work}/first' ]; then
      : > '${work}/first'
      '${process.execPath}' '${work}/fake.cjs' "$port" '${taken}' </dev/null >/dev/null 2>&1 &
      i=0; while [ ! -e '${taken}' ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    fi
    exec "$0" "$@"`;
  let redis: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  try {
    redis = await startRedisServer({ launchPrefix: ['sh', '-c', script] });
    const [fakePid, fakePort] = (await readFile(taken, 'utf8')).split(' ').map(Number);
    try {
      assert.notEqual(redis.port, fakePort, 'not the port the other process holds');
      assert.equal(await roundTrip(redis.port, 'SET k 1\r\n'), '+OK\r\n', 'a real Redis answers');
    } finally {
      process.kill(fakePid as number, 'SIGKILL');
    }
  } finally {
    await redis?.stop();
    await rm(work, { recursive: true, force: true });
  }
});

test('a start that fails removes the temporary data folder it made', async () => {
  const parent = await mkdtemp(join(tmpdir(), 'gradcam-redis-tmp-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = parent;
  try {
    await assert.rejects(startRedisServer({ executable: 'redis-server-that-does-not-exist' }), RedisServerNotFoundError);
    await assert.rejects(startRedisServer({ extraArgs: ['--no-such-option', 'x'] }), RedisServerStartError);
    assert.deepEqual(await readdir(parent), []);
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(parent, { recursive: true, force: true });
  }
});
