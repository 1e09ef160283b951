import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { freePort, startRedisServer, startS3Server } from '@gradcam/dev-services';
import { builtinModels } from '@gradcam/engine';
import { demoCommand, storagePlace } from './up-command.ts';
import { killAllWithEnv, processesWithEnv, repoRoot, runGradcam, stackPortEnv, waitUntilNoneLeft } from '../test-support/stack-processes.ts';

/** Runs `body` with a fresh state folder; whatever carries it in its environment is killed afterwards. */
async function withStateDir(body: (stateDir: string, env: NodeJS.ProcessEnv) => Promise<void>): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-up-'));
  try {
    await body(stateDir, { ...process.env, ...(await stackPortEnv()), GRADCAM_STATE_DIR: stateDir, GRADCAM_WORKER_PROCESSES: '1', GRADCAM_BACKEND: 'wasm' });
  } finally {
    killAllWithEnv(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** `gradcam up --quiet` to its end: status, and stderr's lines. */
async function upFails(env: NodeJS.ProcessEnv): Promise<{ status: number | null; lines: string[]; stdout: string }> {
  const run = runGradcam(['up', '--quiet'], env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), 60_000);
  const { status } = await run.exited;
  clearTimeout(timer);
  return { status, lines: run.stderr().trim().split('\n'), stdout: run.stdout() };
}

test('the banner names the storage: the folder, or the S3 bucket, prefix and endpoint (it said "S3 (from S3_BUCKET)")', () => {
  assert.equal(storagePlace({ storageDir: '/srv/gradcam/storage', s3: undefined }), '/srv/gradcam/storage');
  const s3 = { bucket: 'gradcam', url: 's3://gradcam/team-a/captures/', location: 'http://127.0.0.1:9000' };
  assert.equal(storagePlace({ storageDir: undefined, s3 }), 's3://gradcam/team-a/captures/ at http://127.0.0.1:9000');
});

describe('gradcam up refuses in one line', () => {
  test('a GRADCAM_STATE_DIR that is a file: exit 2, naming the variable', async () => {
    await withStateDir(async (stateDir, env) => {
      const file = join(stateDir, 'a-file');
      await writeFile(file, 'not a folder');
      const { status, lines, stdout } = await upFails({ ...env, GRADCAM_STATE_DIR: file });
      assert.equal(status, 2, lines.join('\n'));
      assert.deepEqual(lines, [`gradcam up: configuration error: GRADCAM_STATE_DIR: ${file} is a file, or a file is in its way; point it at a folder`]);
      // Nothing on stdout either: "starting the local stack…" came before the refusal, two lines in all.
      assert.equal(stdout, '');
    });
  });

  test('a REDIS_URL that does not answer: exit 1 at once, naming REDIS_URL, no service started', async () => {
    await withStateDir(async (stateDir, env) => {
      const port = await freePort();
      const started = Date.now();
      const { status, lines, stdout } = await upFails({ ...env, REDIS_URL: `redis://:secret@127.0.0.1:${port}` });
      assert.equal(status, 1, lines.join('\n'));
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] as string, new RegExp(`^gradcam up: REDIS_URL: redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port} does not answer PING \\(.*ECONNREFUSED.*\\)`));
      assert.ok(Date.now() - started < 15_000, `refused in ${Date.now() - started} ms`);
      assert.equal(stdout, '', 'no "starting the local stack" before the refusal');
      assert.equal(readdirSync(stateDir).includes('local-stack.json'), false);
    });
  });

  test('a REDIS_URL that is a Redis Cluster node: exit 2, naming REDIS_URL and why, no service started', async () => {
    // It answers PING; the services' scripts would then fail key by key (MOVED, CROSSSLOT, CLUSTERDOWN).
    const clusterNode = await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes'] });
    try {
      await withStateDir(async (stateDir, env) => {
        const { status, lines, stdout } = await upFails({ ...env, REDIS_URL: clusterNode.url });
        assert.equal(status, 2, lines.join('\n'));
        assert.deepEqual(lines, [
          `gradcam up: configuration error: REDIS_URL: ${clusterNode.url} is a Redis Cluster node (cluster_enabled:1); gradcam-pipeline needs a single Redis primary (its scripts touch keys in several hash slots): use a non-cluster Redis or a cluster-mode-disabled replication group`,
        ]);
        assert.equal(stdout, '', 'no "starting the local stack" before the refusal');
        assert.equal(readdirSync(stateDir).includes('local-stack.json'), false);
      });
    } finally {
      await clusterNode.stop();
    }
  });

  test('a refusal leaves no state folder behind where there was none: a Redis Cluster node (exit 2), a REDIS_URL that does not answer (exit 1)', async () => {
    const clusterNode = await startRedisServer({ extraArgs: ['--cluster-enabled', 'yes'] });
    try {
      await withStateDir(async (stateDir, env) => {
        // Two levels that do not exist yet: gradcam up makes both, and a refusal takes both away.
        const parent = join(stateDir, 'not-yet');
        const fresh = join(parent, 'state');
        const cases: [string, string, number][] = [
          ['a Redis Cluster node', clusterNode.url, 2],
          ['a REDIS_URL that does not answer', `redis://127.0.0.1:${await freePort()}`, 1],
        ];
        for (const [label, redisUrl, exitStatus] of cases) {
          const { status, lines } = await upFails({ ...env, GRADCAM_STATE_DIR: fresh, REDIS_URL: redisUrl });
          assert.equal(status, exitStatus, `${label}: ${lines.join('\n')}`);
          assert.equal(lines.length, 1, `${label}: ${lines.join('\n')}`);
          assert.deepEqual(readdirSync(stateDir), [], `${label}: ${fresh} left behind (a token file, the redis folder, the lock)`);
        }
        // A state folder that was there is kept, with what was in it.
        await mkdir(fresh, { recursive: true });
        await writeFile(join(fresh, 'mine'), 'kept');
        const { status } = await upFails({ ...env, GRADCAM_STATE_DIR: fresh, REDIS_URL: clusterNode.url });
        assert.equal(status, 2);
        assert.equal(readFileSync(join(fresh, 'mine'), 'utf8'), 'kept');
      });
    } finally {
      await clusterNode.stop();
    }
  });

  test('no redis-server on PATH (a new user without Redis): exit 2 before anything starts, one line, no state folder left behind', async () => {
    await withStateDir(async (stateDir, env) => {
      // A PATH with a shell but no redis-server (node itself runs by its absolute path).
      const bin = join(stateDir, 'bin');
      await mkdir(bin);
      await symlink('/bin/sh', join(bin, 'sh'));
      const fresh = join(stateDir, 'state');
      const { status, lines, stdout } = await upFails({ ...env, PATH: bin, GRADCAM_STATE_DIR: fresh, REDIS_URL: undefined });
      assert.equal(status, 2, lines.join('\n'));
      assert.deepEqual(lines, ['gradcam up: "redis-server" was not found on PATH: install Redis (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL to a running server (see gradcam up --help)']);
      assert.equal(stdout, '', 'no "starting the local stack" before the refusal');
      assert.deepEqual(readdirSync(stateDir), ['bin'], `${fresh} left behind (token files, the redis folder)`);
    });
  });

  test('a REDIS_URL the Redis client cannot parse: exit 2, naming REDIS_URL, no stack trace', async () => {
    await withStateDir(async (_, env) => {
      const { status, lines, stdout } = await upFails({ ...env, REDIS_URL: 'redis:db.internal:6380' });
      assert.equal(status, 2, lines.join('\n'));
      assert.equal(stdout, '');
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] as string, /^gradcam up: configuration error: REDIS_URL: /);
    });
  });

  test('a GRADCAM_STORAGE_DIR that can never be a folder: exit 2, naming the variable, before anything starts', async () => {
    await withStateDir(async (_, env) => {
      const { status, lines, stdout } = await upFails({ ...env, GRADCAM_STORAGE_DIR: '/dev/null/store' });
      assert.equal(status, 2, lines.join('\n'));
      assert.deepEqual(lines, ['gradcam up: configuration error: GRADCAM_STORAGE_DIR: /dev/null/store is a file, or a file is in its way; point it at a folder']);
      assert.equal(stdout, '', 'no "starting the local stack" before the refusal');
    });
  });

  test('S3 settings that do not work: exit 1 within seconds, one line naming the variable(s), nothing started', async () => {
    const s3 = await startS3Server({ buckets: ['stack-bucket'] });
    try {
      await withStateDir(async (stateDir, env) => {
        const noAws = Object.fromEntries(Object.keys(env).filter((name) => name.startsWith('AWS_')).map((name) => [name, undefined]));
        const s3Env = { ...env, ...noAws, S3_BUCKET: 'stack-bucket', S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
        const downPort = await freePort();
        const cases: [string, NodeJS.ProcessEnv, string | RegExp][] = [
          ['endpoint down', { ...s3Env, S3_ENDPOINT: `http://127.0.0.1:${downPort}` }, new RegExp(`^gradcam up: S3_ENDPOINT: http://127\\.0\\.0\\.1:${downPort} does not answer \\(connect ECONNREFUSED`)],
          ['no such bucket', { ...s3Env, S3_BUCKET: 'no-such-bucket' }, `gradcam up: S3_BUCKET: bucket "no-such-bucket" does not exist at ${s3.endpoint}; create it first (npm start does not create buckets), or set S3_BUCKET to one that exists`],
          ['unknown access key', { ...s3Env, S3_ACCESS_KEY_ID: 'NOT-A-KEY' }, `gradcam up: S3_ACCESS_KEY_ID: ${s3.endpoint} does not know this access key (InvalidAccessKeyId); check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`],
          [
            'no credentials anywhere',
            { ...s3Env, S3_ACCESS_KEY_ID: undefined, S3_SECRET_ACCESS_KEY: undefined, AWS_EC2_METADATA_DISABLED: 'true', AWS_SHARED_CREDENTIALS_FILE: join(stateDir, 'none'), AWS_CONFIG_FILE: join(stateDir, 'none') },
            /^gradcam up: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY: no S3 credentials \(neither is set, and the AWS default chain/,
          ],
        ];
        for (const [label, caseEnv, expected] of cases) {
          const started = Date.now();
          const { status, lines, stdout } = await upFails(caseEnv);
          assert.equal(status, 1, `${label}: ${lines.join('\n')}`);
          assert.equal(lines.length, 1, `${label}: ${lines.join('\n')}`);
          if (typeof expected === 'string') assert.equal(lines[0], expected, label);
          else assert.match(lines[0] as string, expected, label);
          assert.ok(Date.now() - started < 20_000, `${label}: refused in ${Date.now() - started} ms`);
          assert.equal(stdout, '', `${label}: no service started, no "starting the local stack" before the refusal`);
          assert.equal(readdirSync(stateDir).includes('local-stack.json'), false, label);
        }
      });
    } finally {
      await s3.stop();
    }
  });

  test('an S3_ENDPOINT whose path names the bucket: exit 2 naming S3_ENDPOINT, nothing written (the check passed, storing under "<bucket>/…" keys)', async () => {
    const s3 = await startS3Server({ buckets: ['stack-bucket'] });
    try {
      await withStateDir(async (_, env) => {
        const noAws = Object.fromEntries(Object.keys(env).filter((name) => name.startsWith('AWS_')).map((name) => [name, undefined]));
        const s3Env = { ...env, ...noAws, S3_BUCKET: 'stack-bucket', S3_ACCESS_KEY_ID: s3.accessKeyId, S3_SECRET_ACCESS_KEY: s3.secretAccessKey };
        const { status, lines, stdout } = await upFails({ ...s3Env, S3_ENDPOINT: `${s3.endpoint}/stack-bucket` });
        assert.equal(status, 2, lines.join('\n'));
        assert.deepEqual(lines, [`gradcam up: configuration error: S3_ENDPOINT: names the bucket "stack-bucket" in its path ("/stack-bucket"); give the server's address alone (${s3.endpoint}) and the bucket in S3_BUCKET`]);
        assert.equal(stdout, '');
        const listing = await (await fetch(`${s3.endpoint}/stack-bucket?list-type=2`)).text();
        assert.doesNotMatch(listing, /<Key>/, 'nothing stored, under any key');
      });
    } finally {
      await s3.stop();
    }
  });

  test('a private redis-server that cannot start: exit 1, Redis\'s own reason and the data folder', async () => {
    await withStateDir(async (stateDir, env) => {
      await mkdir(join(stateDir, 'redis', 'appendonlydir'), { recursive: true });
      await writeFile(join(stateDir, 'redis', 'appendonlydir', 'appendonly.aof.manifest'), 'garbage\n');
      const { status, lines } = await upFails(env);
      assert.equal(status, 1, lines.join('\n'));
      assert.deepEqual(lines, [`gradcam up: redis-server exited at start (code 1, data folder ${join(stateDir, 'redis')}): Invalid AOF manifest file format`]);
    });
  });

  test('an unknown model in GRADCAM_MODELS: exit 2 before anything starts, naming it and the built-in models, no state folder left behind', async () => {
    await withStateDir(async (stateDir, env) => {
      const fresh = join(stateDir, 'state');
      const { status, lines, stdout } = await upFails({ ...env, GRADCAM_STATE_DIR: fresh, GRADCAM_MODELS: 'nsfw-mobilenet-v2,bogus-model' });
      assert.equal(status, 2, lines.join('\n'));
      assert.deepEqual(lines, [
        `gradcam up: configuration error: GRADCAM_MODELS: unknown model "bogus-model": not a built-in model (${builtinModels.map((m) => m.descriptor.name).join(', ')}) nor a model directory`,
      ]);
      assert.equal(stdout, '', 'no "starting the local stack" (nor a worker loading) before the refusal');
      assert.deepEqual(readdirSync(stateDir), [], `${fresh} left behind (token files, the redis folder)`);
    });
  });

  test('a model folder in GRADCAM_MODELS that is not there: exit 2 before anything starts, naming the folder; one that is there passes the check', async () => {
    await withStateDir(async (stateDir, env) => {
      const missing = join(stateDir, 'models', 'mine');
      const { status, lines, stdout } = await upFails({ ...env, GRADCAM_MODELS: missing });
      assert.equal(status, 2, lines.join('\n'));
      assert.deepEqual(lines, [`gradcam up: configuration error: GRADCAM_MODELS: unknown model "${missing}": no folder at ${missing} (built-in models: ${builtinModels.map((m) => m.descriptor.name).join(', ')})`]);
      assert.equal(stdout, '');
      // A folder that is there is the worker's to load: the start goes on to its next check, here a REDIS_URL that does not answer.
      await mkdir(missing, { recursive: true });
      const port = await freePort();
      const passed = await upFails({ ...env, GRADCAM_MODELS: missing, REDIS_URL: `redis://127.0.0.1:${port}` });
      assert.equal(passed.status, 1, passed.lines.join('\n'));
      assert.match(passed.lines.join('\n'), new RegExp(`^gradcam up: REDIS_URL: redis://127\\.0\\.0\\.1:${port} does not answer PING`));
    });
  });

  test('a worker that fails at start-up: exit 1, with the reason it logged (a model folder with no model.json)', async () => {
    await withStateDir(async (stateDir, env) => {
      const folder = join(stateDir, 'not-a-model');
      await mkdir(folder);
      const { status, lines, stdout } = await upFails({ ...env, GRADCAM_MODELS: folder });
      assert.equal(status, 1, lines.join('\n'));
      // The settings passed their checks: the start is announced, then fails.
      assert.equal(stdout, 'starting the local stack (1 worker process)…\n');
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] as string, new RegExp(`^gradcam up: worker exited \\(code 1\\) before it was ready: worker failed to start: MODEL_NOT_FOUND: ${folder} is not a TensorFlow\\.js model folder: it has no model\\.json`));
    });
  });
});

describe('gradcam up ends with its launcher', () => {
  test('SIGKILL to the process that started it: gradcam up stops everything it started', async () => {
    await withStateDir(async (stateDir, env) => {
      // The launcher starts gradcam up and waits, as `sh -c` under npm does; its pipe stays with the child.
      const launcher = spawn('sh', ['-c', `"${process.execPath}" packages/cli/bin/gradcam.js up & wait`], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      launcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      launcher.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 30_000;
      while (!/\[worker\]/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(output, /\[worker\]/, 'the stack was starting');
      launcher.kill('SIGKILL');
      const left = await waitUntilNoneLeft(stateDir, 20_000);
      assert.deepEqual(left, [], `still running:\n${output}`);
      assert.match(output, /the process that started gradcam up is gone; stopping/);
    });
  });

  test('the demo hint names a state folder other than the default, quoted for the shell where it must be', () => {
    assert.equal(demoCommand('.gradcam'), 'npm run demo');
    assert.equal(demoCommand('/tmp/stack-2'), 'GRADCAM_STATE_DIR=/tmp/stack-2 npm run demo');
    assert.equal(demoCommand("/tmp/my stack's"), "GRADCAM_STATE_DIR='/tmp/my stack'\\''s' npm run demo");
  });

  test('SIGHUP (its terminal closed): gradcam up stops in order rather than dying at once', async () => {
    await withStateDir(async (stateDir, env) => {
      const run = runGradcam(['up'], env);
      await run.waitFor('gradcam pipeline is up', 120_000);
      // The demo finds the stack by its state folder: the hint names this one.
      await run.waitFor(`Try: GRADCAM_STATE_DIR=${stateDir} npm run demo `, 5_000);
      run.child.kill('SIGHUP');
      const { status } = await run.exited;
      // Node's default for SIGHUP would have ended it by that signal, with no status and no stop.
      assert.equal(status, 0, run.stderr());
      // The services' own lines about their stop come between the two.
      assert.match(run.stdout(), /stopping: workers finish their current batch…\n[^]*\nstopped: the services and the private Redis have exited\n$/);
      assert.deepEqual(await waitUntilNoneLeft(stateDir, 20_000), [], run.stdout());
    });
  });

  test('SIGTERM to `npm start`: npm runs gradcam up itself (exec, no shell between), which stops everything', async () => {
    await withStateDir(async (stateDir, env) => {
      const npm = spawn('npm', ['start', '--silent'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      npm.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const deadline = Date.now() + 30_000;
      while (!/\[worker\]/.test(output) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.match(output, /\[worker\]/, 'the stack was starting');
      const children = processesWithEnv(stateDir).filter((line) => {
        const pid = line.split(' ')[0] as string;
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === npm.pid;
      });
      assert.equal(children.length, 1, children.join('\n'));
      assert.match(children[0] as string, /^\d+ \S*node \S*gradcam up$/, 'npm\'s child is gradcam up itself, not a shell');
      npm.kill('SIGTERM');
      const left = await waitUntilNoneLeft(stateDir, 20_000);
      assert.deepEqual(left, [], `still running:\n${output}`);
    });
  });
});
