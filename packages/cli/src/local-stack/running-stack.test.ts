import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type GradcamRun, killAllWithEnv, processesWithEnv, runGradcam, stackPortEnv, waitUntilNoneLeft } from '../test-support/stack-processes.ts';
import { stackFileName } from './stack-file.ts';
import { stateLockFileName } from './state-lock.ts';

const fixture = fileURLToPath(new URL('../../../../test/fixtures/images/house-cat-locomotion.jpg', import.meta.url));

/** A pid that ran and is gone: a stale lock's. */
async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

// One real `gradcam up` (wasm, one worker process) shared by every check that needs a running stack.
describe('a running gradcam up', { timeout: 240_000 }, () => {
  let stateDir: string;
  let storageDir: string;
  let env: NodeJS.ProcessEnv;
  let up: GradcamRun;

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'gradcam-running-'));
    storageDir = join(stateDir, 'elsewhere', 'store');
    // Left by a gradcam up killed by SIGKILL: taken over.
    await writeFile(join(stateDir, stateLockFileName), `${await deadPid()}\n`);
    env = {
      ...process.env,
      ...(await stackPortEnv()),
      GRADCAM_STATE_DIR: stateDir,
      GRADCAM_STORAGE_DIR: storageDir,
      GRADCAM_MODELS: 'nsfw-mobilenet-v2',
      GRADCAM_WORKER_PROCESSES: '1',
      GRADCAM_BACKEND: 'wasm',
      GRADCAM_RENDER_THREADS: '0',
    };
    up = runGradcam(['up'], env);
    await up.waitFor('gradcam pipeline is up', 180_000);
  });

  after(async () => {
    up.child.kill('SIGTERM');
    const left = await waitUntilNoneLeft(stateDir, 30_000);
    killAllWithEnv(stateDir);
    await rm(stateDir, { recursive: true, force: true });
    assert.deepEqual(left, [], 'the stack stopped');
  });

  test('uses GRADCAM_STORAGE_DIR and records it and the served models for the demo', async () => {
    assert.match(up.stdout(), new RegExp(`storage +${storageDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\n`));
    assert.match(up.stdout(), /models +nsfw-mobilenet-v2\n/);
    const recorded = JSON.parse(await readFile(join(stateDir, stackFileName), 'utf8')) as { storageDir: string; models: string[] };
    assert.equal(recorded.storageDir, storageDir);
    assert.deepEqual(recorded.models, ['nsfw-mobilenet-v2']);
    assert.equal((await readFile(join(stateDir, stateLockFileName), 'utf8')).split('\n')[0], String(up.child.pid), 'the stale lock was taken over');
  });

  test('the demo posts to the recorded model and prints where the explanation landed, under GRADCAM_STORAGE_DIR', async () => {
    const demo = runGradcam(['demo', fixture], env);
    const { status } = await demo.exited;
    assert.equal(status, 0, demo.stderr());
    assert.match(demo.stderr(), /finished 1\/1\n/);
    assert.ok(demo.stdout().includes(`→ ${storageDir}/`), demo.stdout());
    assert.match(demo.stdout(), /1 of 1 explained/);
  });

  test('a second gradcam up on the same state folder is refused in one line and leaves the first one\'s files', async () => {
    const second = runGradcam(['up', '--quiet'], env);
    const { status } = await second.exited;
    assert.equal(status, 1, second.stderr());
    assert.deepEqual(second.stderr().trim().split('\n'), [
      `gradcam up: another gradcam up (pid ${up.child.pid}) is running on ${stateDir}: stop it first, or give this one its own GRADCAM_STATE_DIR and ports (GRADCAM_INGEST_PORT, GRADCAM_EXPORTER_PORT, GRADCAM_WORKER_METRICS_PORT, GRADCAM_REVIEW_PORT)`,
    ]);
    await readFile(join(stateDir, stackFileName), 'utf8');
    assert.equal((await readFile(join(stateDir, stateLockFileName), 'utf8')).split('\n')[0], String(up.child.pid));
    assert.equal((await fetch(`http://127.0.0.1:${env.GRADCAM_INGEST_PORT}/readyz`)).status, 200);
  });

  test('a second gradcam up on another state folder but the same ports is refused, naming every port variable, before Redis starts', async () => {
    const otherState = await mkdtemp(join(tmpdir(), 'gradcam-other-'));
    try {
      const second = runGradcam(['up', '--quiet'], { ...env, GRADCAM_STATE_DIR: otherState });
      const { status } = await second.exited;
      assert.equal(status, 1, second.stderr());
      const variables = ['GRADCAM_INGEST_PORT', 'GRADCAM_EXPORTER_PORT', 'GRADCAM_WORKER_METRICS_PORT', 'GRADCAM_REVIEW_PORT'];
      const held = variables.map((variable) => `${variable}: 127.0.0.1:${env[variable]} is in use (another gradcam up, or another program)`);
      assert.deepEqual(second.stderr().trim().split('\n'), [`gradcam up: ${held.join('; ')}; stop what holds them or set ${variables.join(', ')} to free ports`]);
      assert.deepEqual(processesWithEnv(otherState), []);
    } finally {
      killAllWithEnv(otherState);
      await rm(otherState, { recursive: true, force: true });
    }
  });

  test('gradcam jobs: a job failed on bad input is listed, left alone by a plain retry, and explained once its input is fixed and it is retried by code', async () => {
    // A record referencing an object that is not an image yet (a producer that wrote it late, or
    // wrongly, then rewrote it): ingest accepts it (the object exists), the worker fails it at once.
    await mkdir(join(storageDir, 'uploads'), { recursive: true });
    await writeFile(join(storageDir, 'uploads', 'late.jpg'), 'not an image yet');
    const { ingestUrl, token } = JSON.parse(await readFile(join(stateDir, stackFileName), 'utf8')) as { ingestUrl: string; token: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const record = { id: 'late-upload-1', model: { name: 'nsfw-mobilenet-v2' }, image: { uri: 's3://local/uploads/late.jpg' } };
    const posted = await fetch(`${ingestUrl}/v1/inferences`, { method: 'POST', headers, body: JSON.stringify(record) });
    assert.equal(posted.status, 202, await posted.text());
    const statusOf = async () => (await (await fetch(`${ingestUrl}/v1/inferences/late-upload-1`, { headers })).json()) as { status: string; failure?: { code: string } };
    const settled = async (want: string) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        const status = await statusOf();
        if (status.status === want) return status;
      }
      return statusOf();
    };
    const failed = await settled('failed');
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    const code = failed.failure?.code as string;
    assert.equal(code, 'IMAGE_UNSUPPORTED_FORMAT');

    const list = runGradcam(['jobs', 'failed', '--json'], env);
    assert.equal((await list.exited).status, 0, list.stderr());
    const groups = (JSON.parse(list.stdout()) as { groups: { code: string; kind: string; ids: string[] }[] }).groups;
    assert.deepEqual(groups, [{ ...groups[0], code, kind: 'at-once', ids: ['late-upload-1'] }]);

    const plain = runGradcam(['jobs', 'retry'], env);
    assert.equal((await plain.exited).status, 0, plain.stderr());
    assert.match(plain.stdout(), new RegExp(`^no failed job to retry\nleft out: ${code}, 1 job that failed at once; name it with --code ${code}`));
    assert.equal((await statusOf()).status, 'failed', 'bad input is not retried unless named');

    await copyFile(fixture, join(storageDir, 'uploads', 'late.jpg'));
    const byCode = runGradcam(['jobs', 'retry', '--code', code], env);
    assert.equal((await byCode.exited).status, 0, byCode.stderr());
    assert.equal(
      byCode.stdout(),
      `retried 1 job (${code} 1): queued again with fresh attempts\n` +
        `${code}: 1 job failed on its image; explained from the image under its key as it is now, no longer checked against the one ingest accepted (its size, ETag, sha256): fix the image there first\n`,
    );
    const done = await settled('done');
    assert.equal(done.status, 'done', JSON.stringify(done));
  });

  test('erasure works on the local stack: the erase token is printed and recorded, ingest takes it, and the API token cannot erase', async () => {
    const { ingestUrl, token, eraseToken } = JSON.parse(await readFile(join(stateDir, stackFileName), 'utf8')) as { ingestUrl: string; token: string; eraseToken: string };
    assert.equal(eraseToken, (await readFile(join(stateDir, 'erase-token'), 'utf8')).trim());
    assert.notEqual(eraseToken, token);
    assert.ok(up.stdout().includes(`erase token       ${eraseToken}   (DELETE /v1/inferences/{id} only)\n`), up.stdout());
    const erase = async (bearer: string) => {
      const answer = await fetch(`${ingestUrl}/v1/inferences/never-accepted-1`, { method: 'DELETE', headers: { authorization: `Bearer ${bearer}` } });
      return { status: answer.status, code: ((await answer.json()) as { error: { code: string } }).error.code };
    };
    // Before, every erasure here was 403 ERASURE_DISABLED: ingest had no GRADCAM_ERASE_TOKENS.
    assert.deepEqual(await erase(token), { status: 403, code: 'ERASURE_NOT_ALLOWED' });
    assert.deepEqual(await erase(eraseToken), { status: 404, code: 'INFERENCE_NOT_FOUND' });
  });

  // Last: it ends the stack.
  test('its private redis-server dying is reported like a service\'s, and the whole stack stops (exit 1)', async () => {
    // redis-server rewrites its title over its environment: find it as its leash's child.
    const leash = processesWithEnv(stateDir).find((line) => / leash redis-server /.test(line));
    assert.ok(leash, processesWithEnv(stateDir).join('\n'));
    const leashPid = leash.split(' ')[0] as string;
    const [redisPid] = readFileSync(`/proc/${leashPid}/task/${leashPid}/children`, 'utf8').trim().split(' ').map(Number);
    assert.match(readFileSync(`/proc/${redisPid}/cmdline`, 'utf8'), /^redis-server/);
    const started = Date.now();
    process.kill(redisPid as number, 'SIGKILL');
    const { status } = await up.exited;
    assert.equal(status, 1);
    assert.match(up.stderr(), /gradcam up: redis-server exited \(code 137\) after start-up[^\n]*; stopping the rest of the stack\n/);
    assert.ok(Date.now() - started < 30_000, `stopped in ${Date.now() - started} ms`);
    assert.deepEqual(await waitUntilNoneLeft(stateDir, 10_000), []);
    assert.throws(() => readFileSync(join(stateDir, stateLockFileName)), /ENOENT/, 'the lock is released');
  });
});
