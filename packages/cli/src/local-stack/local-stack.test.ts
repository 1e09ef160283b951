import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { ConfigError, readLocalStackConfig } from '@gradcam/config';
import { freePort, processRunning } from '@gradcam/dev-services';
import { encodeKeyPath, signBlob } from '@gradcam/storage';
import { LocalStackError } from './local-stack-error.ts';
import { StackStartAbortedError, startLocalStack } from './local-stack.ts';
import { ServiceExitedError } from './service-exited-error.ts';
import { repoRoot, startService, waitUntilReady } from './service-process.ts';
import { stateLockFileName } from './state-lock.ts';
import { runWithLockTakenAfterRelease } from '../test-support/lock-race.ts';

/** Field 5 of /proc/<pid>/stat: the process group. */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** A one-worker-process stack config on free ports, its state in `stateDir`. */
async function stackPorts(stateDir: string, extra: Record<string, string> = {}) {
  const [ingest, exporter, review, workerMetrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
  return readLocalStackConfig({
    GRADCAM_STATE_DIR: stateDir,
    GRADCAM_INGEST_PORT: String(ingest),
    GRADCAM_EXPORTER_PORT: String(exporter),
    GRADCAM_REVIEW_PORT: String(review),
    GRADCAM_WORKER_METRICS_PORT: String(workerMetrics),
    GRADCAM_WORKER_PROCESSES: '1',
    ...extra,
  });
}

/**
 * Live processes started by this test process, directly or not, and their command lines. Only
 * descendants: test files run two at a time, and another file's workers have the same command
 * lines as this file's.
 */
function descendants(): Map<number, string> {
  const parents = new Map<number, number>();
  const commands = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      parents.set(Number(entry), Number(fields[1]));
      commands.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim());
    } catch {
      // Gone between readdir and read.
    }
  }
  const descends = (pid: number) => {
    for (let at = parents.get(pid), hops = 0; at !== undefined && hops < 64; at = parents.get(at), hops++) if (at === process.pid) return true;
    return false;
  };
  return new Map([...commands].filter(([pid]) => descends(pid)));
}

/** This test process's live descendants whose command line matches. */
function processesMatching(pattern: RegExp): number[] {
  return [...descendants()].filter(([, command]) => pattern.test(command)).map(([pid]) => pid);
}

/** Live descendants that belong to a stack. */
function stackDescendants(): string[] {
  return [...descendants()].filter(([, command]) => /leash|redis-server|services\//.test(command)).map(([pid, command]) => `${pid} ${command}`);
}

/** Runs `body` with a fresh state folder, removed afterwards whatever happens. */
async function withStateDir(body: (stateDir: string) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-stack-'));
  try {
    await body(stateDir);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('a service runs in its own process group, and stop() still reaches its SIGTERM handler', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-service-'));
  try {
    const entry = join(dir, 'service.mjs');
    await writeFile(entry, `process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 100); });\nconsole.log('up');\nsetInterval(() => {}, 1000);\n`);
    const lines: string[] = [];
    let up!: () => void;
    const started = new Promise<void>((resolve) => (up = resolve));
    const service = startService({ name: 'fixture', entry, env: process.env, onLine: (line) => (lines.push(line), line.endsWith(' up') && up()) });
    await started;
    const pid = service.child.pid as number;
    assert.equal(processGroup(pid), pid, 'the service leads its own group');
    assert.notEqual(processGroup(pid), processGroup(process.pid), 'a Ctrl-C to the terminal group does not reach it');
    assert.equal(await service.stop(), 'code 0');
    assert.ok(lines.includes('[fixture] draining'), lines.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stop requested while the stack starts stops what started (Redis, the loading worker) and rejects', async () => {
  await withStateDir(async (stateDir) => {
    const config = await stackPorts(stateDir);
    const stop = new AbortController();
    let sawWorker = false;
    // As a Ctrl-C would: once the worker has started loading its model (or after 2 s).
    const timer = setTimeout(() => stop.abort(), 2000);
    const starting = startLocalStack({
      config,
      signal: stop.signal,
      onLine: (line) => {
        if (line.startsWith('[worker]') && !sawWorker) {
          sawWorker = true;
          stop.abort();
        }
      },
    });
    await assert.rejects(starting, StackStartAbortedError);
    clearTimeout(timer);
    assert.deepEqual(stackDescendants(), [], 'nothing of the stack is left running');
  });
});

test('a service exiting 78 before it is ready is a ServiceExitedError with its last error line, not its stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-service-'));
  try {
    const entry = join(dir, 'service.mjs');
    await writeFile(entry, `console.error('fixture: configuration error: GRADCAM_FIXTURE: bad value'); console.error('Node.js v20.0.0'); process.exitCode = 78;\n`);
    const service = startService({ name: 'fixture', entry, env: process.env });
    const port = await freePort();
    await assert.rejects(waitUntilReady(service, `http://127.0.0.1:${port}/readyz`, 10_000), (error: unknown) => {
      assert.ok(error instanceof ServiceExitedError, String(error));
      assert.ok(error.configurationError);
      assert.equal(error.message, 'fixture exited (code 78, a configuration error) before it was ready: fixture: configuration error: GRADCAM_FIXTURE: bad value');
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad service variable stops the stack before anything starts, as a ConfigError naming it', async () => {
  await withStateDir(async (stateDir) => {
    const config = await stackPorts(stateDir);
    for (const [variable, value] of [['GRADCAM_CAPTURE_POLICY', 'bogus'], ['GRADCAM_REVIEW_POLICY', 'bogus=1'], ['GRADCAM_REVIEW_TOKENS', 'bad'], ['GRADCAM_BATCH_SIZE', 'x']] as const) {
      const lines: string[] = [];
      const started = Date.now();
      const starting = startLocalStack({ config, env: { [variable]: value }, onLine: (line) => lines.push(line) });
      await assert.rejects(starting, (error: unknown) => error instanceof ConfigError && error.variable === variable, variable);
      assert.ok(Date.now() - started < 5_000, `${variable}: refused at once, not after Redis and the models`);
      assert.deepEqual(lines, [], `${variable}: no service was started`);
    }
    assert.deepEqual(stackDescendants(), [], 'nothing of the stack is left running');
  });
});

/**
 * A port held for the test's length: given to the ingest service, it stops a start at the port
 * check, before Redis or any service, so what the start did until then can be seen at once.
 */
async function withBlockedPort(body: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body((server.address() as { port: number }).port);
  } finally {
    server.close();
  }
}

test('a GRADCAM_STORAGE_DIR that can never be a folder is a ConfigError naming it, before anything starts', async () => {
  await withStateDir(async (stateDir) => {
    await withBlockedPort(async (port) => {
      const config = await stackPorts(stateDir, { GRADCAM_INGEST_PORT: String(port) });
      const file = join(stateDir, 'a-file');
      await writeFile(file, 'not a folder');
      for (const dir of ['/dev/null/store', file, join(file, 'store')]) {
        const lines: string[] = [];
        const starting = startLocalStack({ config, env: { GRADCAM_STORAGE_DIR: dir }, onLine: (line) => lines.push(line) });
        await assert.rejects(starting, (error: unknown) => {
          assert.ok(error instanceof ConfigError, `${dir}: ${String(error)}`);
          assert.equal(error.message, `GRADCAM_STORAGE_DIR: ${dir} is a file, or a file is in its way; point it at a folder`);
          return true;
        });
        assert.deepEqual(lines, [], `${dir}: no service was started`);
      }
      assert.deepEqual(stackDescendants(), [], 'nothing of the stack is left running');
    });
  });
});

test("a refused start on a new state folder leaves the lock and state of another start that took the folder the moment it was released", async () => {
  await withStateDir(async (root) => {
    // Two levels that do not exist yet: the refused start makes both.
    const stateDir = join(root, 'new', 'state');
    const config = { ...(await stackPorts(stateDir)), redisUrl: `redis://127.0.0.1:${await freePort()}` };
    const theirs = { [stateLockFileName]: 'another gradcam up\n', 'api-token': 'the other start\'s token\n' };
    const script = `import { startLocalStack } from ${JSON.stringify(new URL('./local-stack.ts', import.meta.url).href)};
const result = await startLocalStack({ config: ${JSON.stringify(config)} }).then((stack) => stack.stop().then(() => 'started'), (error) => error.code ?? error.message);
console.log(JSON.stringify(result));`;
    const run = await runWithLockTakenAfterRelease(root, join(stateDir, stateLockFileName), theirs, script);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout), 'REDIS_UNREACHABLE', run.stdout);
    // Its own tokens and redis/ went before the release; the other start's files stay, and the folders holding them.
    assert.deepEqual(readdirSync(stateDir).sort(), Object.keys(theirs).sort(), 'the other start keeps its folder');
    for (const [name, text] of Object.entries(theirs)) assert.equal(readFileSync(join(stateDir, name), 'utf8'), text, name);
  });
});

test('a refused start leaves what another start put in the folders it made since: a state folder under the parent made here, an object in the storage folder made here', async () => {
  await withStateDir(async (root) => {
    const parent = join(root, 'new');
    const storageDir = join(root, 'storage', 'objects');
    // A REDIS_URL whose listener does what another start does while this one waits on its answer, then hangs up.
    let meanwhile = async () => {};
    const redis: Server = createServer((socket) => void meanwhile().finally(() => socket.destroy()));
    await new Promise<void>((resolve) => redis.listen(0, '127.0.0.1', resolve));
    try {
      const config = { ...(await stackPorts(join(parent, 'state'))), redisUrl: `redis://127.0.0.1:${(redis.address() as { port: number }).port}` };
      const refused = () => assert.rejects(startLocalStack({ config, env: { GRADCAM_STORAGE_DIR: storageDir } }), (error: unknown) => error instanceof LocalStackError && error.code === 'REDIS_UNREACHABLE');
      await refused();
      assert.deepEqual(readdirSync(root), [], 'with nobody else there, all it made is gone');
      meanwhile = async () => {
        await mkdir(join(parent, 'other'));
        await writeFile(join(parent, 'other', stateLockFileName), 'another gradcam up\n');
        await writeFile(join(storageDir, 'theirs.png'), 'stored');
      };
      await refused();
      assert.deepEqual(readdirSync(parent), ['other'], 'its own state folder went, the other start\'s stayed');
      assert.equal(readFileSync(join(parent, 'other', stateLockFileName), 'utf8'), 'another gradcam up\n');
      assert.equal(readFileSync(join(storageDir, 'theirs.png'), 'utf8'), 'stored');
    } finally {
      redis.close();
    }
  });
});

test('an empty or damaged token file in the state folder is replaced with a new token, in one line, not refused as GRADCAM_API_TOKENS', async () => {
  await withStateDir(async (stateDir) => {
    await withBlockedPort(async (port) => {
      const config = await stackPorts(stateDir, { GRADCAM_INGEST_PORT: String(port) });
      await writeFile(join(stateDir, 'api-token'), '', { mode: 0o644 });
      // Long enough, no space or comma, but a '€' no header can carry: the services would refuse it.
      await writeFile(join(stateDir, 'review-token'), 'local-t€ken-edited-by-hand-0123\n', { mode: 0o644 });
      const lines: string[] = [];
      // Past the token files and every service's configuration check, to the blocked port.
      await assert.rejects(startLocalStack({ config, onLine: (line) => lines.push(line) }), (error: unknown) => error instanceof LocalStackError && error.code === 'PORT_IN_USE');
      assert.deepEqual(lines, [
        `[gradcam up] ${join(stateDir, 'api-token')} held no usable token (it was empty); wrote a new one`,
        `[gradcam up] ${join(stateDir, 'review-token')} held no usable token (under 16 characters, or with a space, a comma or a character a header cannot carry); wrote a new one`,
      ]);
      for (const name of ['api-token', 'review-token']) {
        assert.match(await readFile(join(stateDir, name), 'utf8'), /^local-[\w-]{32}\n$/, name);
        assert.equal((await stat(join(stateDir, name))).mode & 0o777, 0o600, `${name} is private again`);
      }
      const tokens = await Promise.all(['api-token', 'review-token'].map((name) => readFile(join(stateDir, name), 'utf8')));
      lines.length = 0;
      await assert.rejects(startLocalStack({ config, onLine: (line) => lines.push(line) }), LocalStackError);
      assert.deepEqual(lines, [], 'good tokens are kept without a word');
      assert.deepEqual(await Promise.all(['api-token', 'review-token'].map((name) => readFile(join(stateDir, name), 'utf8'))), tokens);
    });
  });
});

test('an erase token is kept in erase-token (erasure was disabled on the local stack), never the API token, and none is made when GRADCAM_ERASE_TOKENS is set', async () => {
  await withStateDir(async (stateDir) => {
    await withBlockedPort(async (port) => {
      const config = await stackPorts(stateDir, { GRADCAM_INGEST_PORT: String(port) });
      const lines: string[] = [];
      // Past the token files and every service's configuration check (ingest's included), to the blocked port.
      await assert.rejects(startLocalStack({ config, onLine: (line) => lines.push(line) }), (error: unknown) => error instanceof LocalStackError && error.code === 'PORT_IN_USE');
      assert.equal(lines.join('\n'), '', 'a missing token file is made without a word');
      const eraseToken = await readFile(join(stateDir, 'erase-token'), 'utf8');
      assert.match(eraseToken, /^local-[\w-]{32}\n$/);
      assert.equal((await stat(join(stateDir, 'erase-token'))).mode & 0o777, 0o600);
      const apiToken = await readFile(join(stateDir, 'api-token'), 'utf8');
      assert.notEqual(eraseToken, apiToken);
      await assert.rejects(startLocalStack({ config, onLine: (line) => lines.push(line) }), LocalStackError);
      assert.equal(await readFile(join(stateDir, 'erase-token'), 'utf8'), eraseToken, 'kept across starts');

      // Copied from api-token by hand: ingest would refuse it (naming GRADCAM_ERASE_TOKENS, which nobody set).
      await writeFile(join(stateDir, 'erase-token'), apiToken);
      await assert.rejects(startLocalStack({ config, onLine: (line) => lines.push(line) }), (error: unknown) => error instanceof LocalStackError && error.code === 'PORT_IN_USE');
      assert.deepEqual(lines, [`[gradcam up] ${join(stateDir, 'erase-token')} held no usable token (it was also an API token, and erasure takes a token of its own); wrote a new one`]);
      assert.notEqual(await readFile(join(stateDir, 'erase-token'), 'utf8'), apiToken);
    });
  });
  await withStateDir(async (stateDir) => {
    await withBlockedPort(async (port) => {
      const config = await stackPorts(stateDir, { GRADCAM_INGEST_PORT: String(port), GRADCAM_ERASE_TOKENS: 'my-own-erase-token-0123' });
      await assert.rejects(startLocalStack({ config }), LocalStackError);
      assert.equal(readdirSync(stateDir).includes('erase-token'), false);
    });
  });
});

test('the stack signs blob links with a secret of its own, kept in url-signing-secret: a link signed with the public development secret opens nothing', { timeout: 300_000 }, async () => {
  await withStateDir(async (stateDir) => {
    const config = await stackPorts(stateDir);
    const stack = await startLocalStack({ config, env: { GRADCAM_BACKEND: 'wasm', GRADCAM_RENDER_THREADS: '0' } });
    try {
      const key = 'someone/else/input.json';
      await mkdir(join(stateDir, 'storage', 'someone', 'else'), { recursive: true });
      await writeFile(join(stateDir, 'storage', key), '{"private":true}');
      const expires = Math.floor(Date.now() / 1000) + 600;
      const open = (signingSecret: string) => fetch(`${stack.ingestUrl}/v1/blobs/${encodeKeyPath(key)}?expires=${expires}&signature=${signBlob(key, expires, signingSecret)}`);
      // The services' built-in secret is in their source: anyone who can reach ingest (another user of the machine, a web page through DNS rebinding) could sign with it.
      const forged = await open('local-development-only');
      assert.equal(forged.status, 403, await forged.text());
      const secretFile = join(stateDir, 'url-signing-secret');
      assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
      const secret = (await readFile(secretFile, 'utf8')).trim();
      const signed = await open(secret);
      assert.equal(signed.status, 200);
      assert.equal(await signed.text(), '{"private":true}');
    } finally {
      await stack.stop();
    }
  });
});

test('no url-signing-secret is made when GRADCAM_URL_SIGNING_SECRET is set', async () => {
  await withStateDir(async (stateDir) => {
    await withBlockedPort(async (port) => {
      const config = await stackPorts(stateDir, { GRADCAM_INGEST_PORT: String(port) });
      await assert.rejects(startLocalStack({ config, env: { GRADCAM_URL_SIGNING_SECRET: 'my-own-signing-secret-0123' } }), (error: unknown) => error instanceof LocalStackError && error.code === 'PORT_IN_USE');
      assert.equal(readdirSync(stateDir).includes('url-signing-secret'), false);
    });
  });
});

test('gradcam up --quiet with a bad service variable: one line naming it, exit 2', async () => {
  await withStateDir(async (stateDir) => {
    const result = spawnSync(process.execPath, ['packages/cli/bin/gradcam.js', 'up', '--quiet'], {
      cwd: repoRoot,
      env: { ...process.env, GRADCAM_STATE_DIR: stateDir, GRADCAM_CAPTURE_POLICY: 'bogus', GRADCAM_WORKER_PROCESSES: '1', GRADCAM_INGEST_PORT: String(await freePort()) },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^gradcam up: configuration error: GRADCAM_CAPTURE_POLICY: unknown term "bogus"[^\n]*\n$/);
  });
});

test('a service that dies after start-up is reported (died), its orphans leave, and stop() still leaves nothing running', { timeout: 300_000 }, async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-stack-'));
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  try {
    const config = await stackPorts(stateDir, { GRADCAM_WORKER_PROCESSES: '2' });
    stack = await startLocalStack({ config, env: { GRADCAM_BACKEND: 'wasm', GRADCAM_RENDER_THREADS: '0' } });
    const entry = join(repoRoot, 'services/worker/src/main.ts');
    const [supervisor, ...more] = processesMatching(/^\S*node .*services\/worker\/src\/main\.ts$/);
    // `main.ts <index> <supervisor pid>`: the engine processes.
    const engines = processesMatching(new RegExp(`${entry.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\d+ \\d+$`));
    assert.ok(supervisor !== undefined && more.length === 0, 'one worker supervisor');
    assert.equal(engines.length, 2, 'two engine processes');
    process.kill(supervisor, 'SIGKILL');
    const died = await Promise.race([stack.died, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    assert.ok(died instanceof ServiceExitedError, 'the stack noticed');
    assert.equal(died.service, 'worker');
    assert.match(died.message, /^worker exited \(code 137\) after start-up/);
    const deadline = Date.now() + 30_000;
    // Orphaned, they are no longer this process's descendants: follow the pids found before.
    while (engines.some(processRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(engines.filter(processRunning), [], 'the engine processes left with their supervisor');
    await stack.stop();
    assert.deepEqual(stackDescendants(), [], 'nothing of the stack is left running');
  } finally {
    await stack?.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
});
