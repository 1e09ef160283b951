import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { type RedisServer, freePort, startRedisServer } from '@gradcam/dev-services';
import { closeConnections, createBatchingWorker, createExplainQueue, createWorkerConnection, enqueueExplainJobs, explainJob } from '@gradcam/queue';
import { explainJobFixture, randomPrefix, seedFailedJobs } from '@gradcam/queue/test-fixtures';
import type { Redis } from 'ioredis';
import { CommandError } from '../command-error.ts';
import { runGradcam } from '../test-support/stack-processes.ts';
import { jobsCommand, jobsUsage } from './jobs-command.ts';

let redis: RedisServer;
let connection: Redis;
before(async () => {
  redis = await startRedisServer();
  connection = createWorkerConnection(redis.url, { onError: () => {} });
});
after(async () => {
  await closeConnections(connection);
  await redis.stop();
});

const minute = 60_000;

/** A queue holding 3 jobs that failed after every attempt (storage out) and 2 that failed at once (bad images). */
async function queueWithFailures(): Promise<{ prefix: string; env: NodeJS.ProcessEnv }> {
  const prefix = randomPrefix();
  const now = Date.now();
  await seedFailedJobs(connection, prefix, [
    { id: 't-0', reason: 'STORAGE_UNAVAILABLE: reading a/input.jpg: connect ECONNREFUSED', failedAt: now - 120 * minute },
    { id: 'p-0', reason: 'IMAGE_CORRUPT: not an image', failedAt: now - 60 * minute, attemptsMade: 1 },
    { id: 't-1', reason: 'STORAGE_UNAVAILABLE: reading b/input.jpg: connect ECONNREFUSED', failedAt: now - 30 * minute },
    { id: 'p-1', reason: 'IMAGE_CORRUPT: truncated', failedAt: now - 20 * minute, attemptsMade: 1 },
    { id: 't-2', reason: 'STORAGE_UNAVAILABLE: reading c/input.jpg: socket hang up', failedAt: now - 10 * minute },
  ]);
  return { prefix, env: { ...process.env, REDIS_URL: redis.url, GRADCAM_QUEUE_PREFIX: prefix } };
}

async function gradcam(args: readonly string[], env: NodeJS.ProcessEnv) {
  const run = runGradcam(args, env);
  const { status } = await run.exited;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

const failedIds = (prefix: string) => connection.zrange(`${prefix}:${explainJob.queueName}:failed`, 0, -1);
const waitingIds = (prefix: string) => connection.lrange(`${prefix}:${explainJob.queueName}:wait`, 0, -1);

test('gradcam jobs failed: per code, after every attempt or at once, newest ids and the last reason; --code and --json', async () => {
  const { env } = await queueWithFailures();
  const listed = await gradcam(['jobs', 'failed'], env);
  assert.equal(listed.status, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.equal(lines[0], '5 failed jobs:');
  assert.match(lines[1] as string, /^STORAGE_UNAVAILABLE: 3 jobs failed after every attempt \(5 of 5\), \S+Z to \S+Z$/);
  assert.equal(lines[2], '  newest: t-2, t-1, t-0');
  assert.equal(lines[3], '  last reason: reading c/input.jpg: socket hang up');
  assert.match(lines[4] as string, /^IMAGE_CORRUPT: 2 jobs failed at once \(the job could not succeed as it was: bad input, or a model no live worker serves\), /);
  assert.equal(lines.at(-1), '`gradcam jobs retry` puts the 3 jobs that failed after every attempt back in the queue (--dry-run to see them first)');

  const json = await gradcam(['jobs', 'failed', '--code', 'image_corrupt', '--json'], env);
  assert.equal(json.status, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { total: number; groups: { code: string; kind: string; ids: string[]; lastReason: string }[] };
  assert.equal(body.total, 2);
  assert.deepEqual(body.groups.map((g) => [g.code, g.kind, g.ids, g.lastReason]), [['IMAGE_CORRUPT', 'at-once', ['p-0', 'p-1'], 'truncated']]);
});

test('gradcam jobs retry: by default the jobs that used every attempt, --since narrows, --dry-run changes nothing, bad input only when named', async () => {
  const { prefix, env } = await queueWithFailures();
  const dry = await gradcam(['jobs', 'retry', '--dry-run'], env);
  assert.equal(dry.status, 0, dry.stderr);
  assert.deepEqual(dry.stdout.trim().split('\n'), [
    'would retry 3 jobs (STORAGE_UNAVAILABLE 3)',
    'left out: IMAGE_CORRUPT, 2 jobs that failed at once; name it with --code IMAGE_CORRUPT (or the ids with --id) once the cause is fixed',
  ]);
  assert.equal((await failedIds(prefix)).length, 5, 'a dry run changes nothing');

  const recent = await gradcam(['jobs', 'retry', '--since', '45m'], env);
  assert.equal(recent.status, 0, recent.stderr);
  assert.match(recent.stdout, /^retried 2 jobs \(STORAGE_UNAVAILABLE 2\): queued again with fresh attempts\n/);
  assert.deepEqual((await waitingIds(prefix)).sort(), ['t-1', 't-2']);
  assert.deepEqual((await failedIds(prefix)).sort(), ['p-0', 'p-1', 't-0'], 't-0 failed two hours ago');

  const named = await gradcam(['jobs', 'retry', '--id', 'p-0,never,t-2'], env);
  assert.equal(named.status, 0, named.stderr);
  assert.equal(
    named.stdout,
    'retried 1 job (IMAGE_CORRUPT 1): queued again with fresh attempts\nIMAGE_CORRUPT: 1 job failed on its image; explained from the image under its key as it is now, no longer checked against the one ingest accepted (its size, ETag, sha256): fix the image there first\n',
  );
  assert.equal(named.stderr, 'not in the failed set (completed, still queued, or unknown): never, t-2\n');
  assert.deepEqual((await failedIds(prefix)).sort(), ['p-1', 't-0']);
  assert.equal(await connection.hget(`${prefix}:${explainJob.queueName}:p-0`, 'atm'), null, 'attempts counted from zero');
});

test('gradcam jobs retry: jobs that failed on their image are said to be explained from the image under their key as it is now (the identity ingest recorded is dropped), in --dry-run and in --json too', async () => {
  const { prefix, env } = await queueWithFailures();
  const asItIsNow = 'IMAGE_CORRUPT: 2 jobs failed on their image; explained from the image under their key as it is now, no longer checked against the one ingest accepted (its size, ETag, sha256): fix the image there first';
  const dry = await gradcam(['jobs', 'retry', '--dry-run', '--code', 'IMAGE_CORRUPT,STORAGE_UNAVAILABLE'], env);
  assert.equal(dry.status, 0, dry.stderr);
  assert.deepEqual(dry.stdout.trim().split('\n'), ['would retry 5 jobs (STORAGE_UNAVAILABLE 3, IMAGE_CORRUPT 2)', asItIsNow.replace('; explained', '; would be explained')]);
  const json = await gradcam(['jobs', 'retry', '--dry-run', '--json', '--code', 'IMAGE_CORRUPT'], env);
  assert.deepEqual((JSON.parse(json.stdout) as { imageAsItIsNow: string[] }).imageAsItIsNow, ['p-0', 'p-1']);
  assert.equal((await failedIds(prefix)).length, 5, 'a dry run changes nothing');
  const retried = await gradcam(['jobs', 'retry', '--id', 'p-0,p-1'], env);
  assert.equal(retried.status, 0, retried.stderr);
  assert.deepEqual(retried.stdout.trim().split('\n'), ['retried 2 jobs (IMAGE_CORRUPT 2): queued again with fresh attempts', asItIsNow]);
  // A storage outage says nothing about the image: no such line.
  const outage = await gradcam(['jobs', 'retry'], env);
  assert.equal(outage.stdout, 'retried 3 jobs (STORAGE_UNAVAILABLE 3): queued again with fresh attempts\n');
});

test("gradcam jobs --help gives GradcamQueuePaused the delay infra/prometheus/alerts.yml gives it", async () => {
  const rules = await readFile(new URL('../../../../infra/prometheus/alerts.yml', import.meta.url), 'utf8');
  const rule = /- alert: GradcamQueuePaused\n[\s\S]*?\n\s+for: (\d+)m\n/.exec(rules);
  assert.ok(rule, 'alerts.yml has GradcamQueuePaused with a for: in minutes');
  assert.match(jobsUsage.replace(/\s+/g, ' '), new RegExp(`GradcamQueuePaused fires after ${rule[1]} minutes`));
});

test('gradcam jobs: a call it cannot run is one line naming what to fix', async () => {
  const { env } = await queueWithFailures();
  const cases: { args: string[]; env: NodeJS.ProcessEnv; status: number; line: RegExp }[] = [
    { args: ['jobs'], env, status: 2, line: /^gradcam jobs: say failed, retry, pause or resume \(see gradcam jobs --help\)$/ },
    { args: ['jobs', 'retry', '--since', '5x'], env, status: 2, line: /^gradcam jobs: --since must be a number and a unit \(s, m, h or d\), e\.g\. 90m; got "5x"/ },
    { args: ['jobs', 'failed', '--dry-run'], env, status: 2, line: /^gradcam jobs: --dry-run goes with retry/ },
    { args: ['jobs', 'failed'], env: { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, status: 1, line: /^gradcam jobs: REDIS_UNREACHABLE: REDIS_URL: redis:\/\/127\.0\.0\.1:\d+ does not answer PING \(.*ECONNREFUSED.*\); start that Redis, or set REDIS_URL to the one the services use$/ },
  ];
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-jobs-'));
  try {
    const { REDIS_URL: _unset, ...withoutRedis } = env;
    cases.push({ args: ['jobs', 'failed'], env: { ...withoutRedis, GRADCAM_STATE_DIR: stateDir }, status: 2, line: /^gradcam jobs: REDIS_URL is not set and no local stack is running \(.*local-stack\.json is missing\): set REDIS_URL/ });
    for (const c of cases) {
      const run = await gradcam(c.args, c.env);
      assert.equal(run.status, c.status, `${c.args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(lines[0] as string, c.line);
    }
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test('gradcam jobs --json: an error that stops it is still one JSON line on stdout, with a stable code; stderr and the exit status as without --json', async () => {
  const { env } = await queueWithFailures();
  const cases: { args: string[]; env: NodeJS.ProcessEnv; status: number; code: string; message: RegExp }[] = [
    { args: ['jobs', 'failed', '--json', '--bogus'], env, status: 2, code: 'USAGE_ERROR', message: /^Unknown option '--bogus'/ },
    { args: ['jobs', 'retry', '--json', '--since', '5x'], env, status: 2, code: 'USAGE_ERROR', message: /^--since must be a number and a unit/ },
    { args: ['jobs', 'failed', '--json'], env: { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, status: 1, code: 'REDIS_UNREACHABLE', message: /^REDIS_URL: redis:\/\/127\.0\.0\.1:\d+ does not answer PING/ },
    { args: ['jobs', 'retry', '--json'], env: { ...env, GRADCAM_QUEUE_PREFIX: 'not-the-services' }, status: 1, code: 'COMMAND_FAILED', message: /^there is no explain queue under GRADCAM_QUEUE_PREFIX "not-the-services"/ },
  ];
  for (const c of cases) {
    const label = c.args.join(' ');
    const run = await gradcam(c.args, c.env);
    assert.equal(run.status, c.status, `${label}: ${run.stderr}`);
    assert.equal(run.stdout.split('\n').filter(Boolean).length, 1, `${label}: one line on stdout: ${run.stdout}`);
    const body = JSON.parse(run.stdout) as { error: { code: string; message: string } };
    assert.deepEqual(Object.keys(body), ['error'], label);
    assert.equal(body.error.code, c.code, label);
    assert.match(body.error.message, c.message, label);
    assert.equal(run.stderr.trim().split('\n').length, 1, `${label}: one line on stderr: ${run.stderr}`);
    assert.match(run.stderr, /^gradcam jobs: /, label);
  }
});

test('gradcam jobs retry: --id and --code that choose nothing say why, per id and per code', async () => {
  const { env } = await queueWithFailures();
  const old = await gradcam(['jobs', 'retry', '--dry-run', '--id', 't-0,t-2', '--since', '1h'], env);
  assert.equal(old.status, 0, old.stderr);
  assert.equal(old.stdout, 'would retry 1 job (STORAGE_UNAVAILABLE 1)\n');
  assert.match(old.stderr, /^failed before --since 1h: t-0 \(\S+Z\)\n$/);
  const other = await gradcam(['jobs', 'retry', '--dry-run', '--id', 'p-0', '--code', 'STORAGE_UNAVAILABLE'], env);
  assert.equal(other.stderr, 'failed with another code than --code: p-0 (IMAGE_CORRUPT)\n');
  const typo = await gradcam(['jobs', 'retry', '--dry-run', '--code', 'STORAGE_UNAVAILBLE'], env);
  assert.equal(typo.stdout, 'no failed job to retry\n');
  assert.equal(typo.stderr, 'no failed job has code STORAGE_UNAVAILBLE (the codes there: IMAGE_CORRUPT, STORAGE_UNAVAILABLE)\n');
  // `failed` with a filter that chooses nothing: not "no failed jobs", while 5 are there.
  const listed = await gradcam(['jobs', 'failed', '--code', 'STORAGE_UNAVAILBLE', '--since', '1d'], env);
  assert.equal(listed.status, 0, listed.stderr);
  assert.match(listed.stdout, /^no failed jobs match --code STORAGE_UNAVAILBLE --since 1d \(explain queue under "[^"]+" on redis:\/\/127\.0\.0\.1:\d+\)\n$/);
  const wrongPrefix = await gradcam(['jobs', 'failed'], { ...env, GRADCAM_QUEUE_PREFIX: 'not-the-services' });
  assert.equal(wrongPrefix.status, 1);
  assert.match(wrongPrefix.stderr, /^gradcam jobs: there is no explain queue under GRADCAM_QUEUE_PREFIX "not-the-services" on redis:\/\/127\.0\.0\.1:\d+: set GRADCAM_QUEUE_PREFIX to the services' prefix\n$/);
});

test('gradcam jobs under a wrong GRADCAM_QUEUE_PREFIX writes nothing there, so a second run is refused too, not "no failed jobs"', async () => {
  // In-process (a spawned run costs a second): the queue's meta write raced the existence check,
  // and about one run in six left `<prefix>:explain:meta`, so the next run found a "queue" there.
  const saved = { url: process.env.REDIS_URL, prefix: process.env.GRADCAM_QUEUE_PREFIX };
  process.env.REDIS_URL = redis.url;
  const prefixes = Array.from({ length: 40 }, () => `wrong-${randomPrefix()}`);
  try {
    for (const prefix of prefixes) {
      process.env.GRADCAM_QUEUE_PREFIX = prefix;
      await assert.rejects(jobsCommand(['failed']), CommandError);
    }
    await sleep(100);
    const left = await Promise.all(prefixes.map(async (prefix) => (await connection.keys(`${prefix}:*`)).join(', ')));
    assert.deepEqual(left.filter((keys) => keys !== ''), [], 'keys left under a wrong prefix');
    process.env.GRADCAM_QUEUE_PREFIX = prefixes[0];
    await assert.rejects(jobsCommand(['failed']), /there is no explain queue under GRADCAM_QUEUE_PREFIX/);
  } finally {
    for (const [name, value] of [['REDIS_URL', saved.url], ['GRADCAM_QUEUE_PREFIX', saved.prefix]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test('gradcam jobs retry: waves keep the waiting jobs under half of GRADCAM_MAX_QUEUE_DEPTH, going on as workers drain the queue; Ctrl-C stops it saying how far it got', async () => {
  const { prefix, env } = await queueWithFailures();
  // Room for 2 (half of 4): 2 jobs already wait, so the 3 to retry must wait for the queue to drain.
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  await enqueueExplainJobs(queue, ['busy-0', 'busy-1'].map(explainJobFixture));
  const full = { ...env, GRADCAM_MAX_QUEUE_DEPTH: '4' };
  try {
    const interrupted = runGradcam(['jobs', 'retry'], full);
    await interrupted.waitFor(/2 jobs waiting: the next 2 go back once under 2 \(half of GRADCAM_MAX_QUEUE_DEPTH 4\)/, 30_000);
    interrupted.child.kill('SIGINT');
    assert.equal((await interrupted.exited).status, 130, interrupted.stderr());
    assert.match(interrupted.stdout(), /^stopped: retried 0 of 3 jobs; run the same command again for the rest\n/);
    assert.deepEqual((await failedIds(prefix)).filter((id) => id.startsWith('t-')).length, 3, 'nothing moved');

    const patient = runGradcam(['jobs', 'retry'], full);
    await patient.waitFor('2 jobs waiting', 30_000);
    // A worker drains the queue: the retry goes on, a wave at a time.
    const depths: number[] = [];
    const worker = createBatchingWorker<unknown, { manifestKey: string }>({
      job: explainJob as never,
      connection,
      prefix,
      maxBatch: 1,
      maxWaitMs: 10,
      processBatch: async (jobs) => {
        depths.push(await connection.llen(`${prefix}:${explainJob.queueName}:wait`));
        await new Promise((r) => setTimeout(r, 100));
        return jobs.map((job) => ({ manifestKey: job.id }));
      },
      onError: () => {},
    });
    try {
      assert.equal((await patient.exited).status, 0, patient.stderr());
      assert.match(patient.stdout(), /^retried 3 jobs \(STORAGE_UNAVAILABLE 3\): queued again with fresh attempts\n/);
      // A wave of 2, then (once the queue drained again, perhaps after another wait) the last one.
      assert.match(patient.stderr(), /\nretried 2 of 3\n(.*waiting.*\n)?retried 3 of 3\n$/);
      assert.ok(Math.max(...depths) <= 2, `the wait list held at most the room: ${depths.join(', ')}`);
    } finally {
      await worker.close();
    }
  } finally {
    await queue.close();
  }
});

test('gradcam jobs without REDIS_URL: a local-stack.json whose gradcam up is gone is not trusted', async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'gradcam-jobs-stale-'));
  try {
    // As a gradcam up killed by SIGKILL leaves it: its private Redis's port may be another Redis's now.
    await writeFile(join(stateDir, 'local-stack.json'), JSON.stringify({ ingestUrl: 'http://127.0.0.1:1', token: 't', redisUrl: redis.url, queuePrefix: 'gradcam' }));
    const { REDIS_URL: _unset, ...env } = process.env;
    const run = await gradcam(['jobs', 'failed'], { ...env, GRADCAM_STATE_DIR: stateDir });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^gradcam jobs: REDIS_URL is not set and no local stack is running \(the gradcam up that wrote .*local-stack\.json is gone\)/);
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
});

test('gradcam jobs pause and resume: the whole queue, saying what it found and how many wait; a second run says so; --json; no filters', async () => {
  const { prefix, env } = await queueWithFailures();
  const queue = createExplainQueue({ connection, prefix, onError: () => {} });
  await enqueueExplainJobs(queue, ['held-0', 'held-1'].map(explainJobFixture));
  try {
    const paused = await gradcam(['jobs', 'pause'], env);
    assert.equal(paused.status, 0, paused.stderr);
    assert.match(paused.stdout, new RegExp(`^the explain queue under "${prefix}" on redis://127\\.0\\.0\\.1:\\d+ is now paused: workers take no new jobs .*; 2 jobs waiting\\n\`gradcam jobs resume\` lets the workers take jobs again\\n$`));
    assert.equal(await queue.isPaused(), true);
    // A worker started now takes nothing.
    const taken: string[] = [];
    const worker = createBatchingWorker({
      job: explainJob,
      connection,
      prefix,
      maxBatch: 2,
      maxWaitMs: 10,
      onError: () => {},
      processBatch: async (jobs) => {
        taken.push(...jobs.map((job) => job.id));
        return jobs.map(() => ({}));
      },
    });
    try {
      await worker.waitUntilReady();
      await sleep(500);
      assert.deepEqual(taken, [], 'a worker takes nothing from a paused queue');
      const again = await gradcam(['jobs', 'pause'], env);
      assert.match(again.stdout, /was paused already/);
      const resumed = await gradcam(['jobs', 'resume', '--json'], env);
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.deepEqual(JSON.parse(resumed.stdout), { paused: false, wasPaused: true, waiting: 2 });
      for (let waited = 0; taken.length < 2 && waited < 10_000; waited += 50) await sleep(50);
      assert.deepEqual(taken.sort(), ['held-0', 'held-1']);
    } finally {
      await worker.close();
    }
    const filtered = await gradcam(['jobs', 'pause', '--code', 'IMAGE_CORRUPT'], env);
    assert.equal(filtered.status, 2);
    assert.match(filtered.stderr, /pause takes no --code, --id or --since: it acts on the whole queue/);
    assert.equal(await queue.isPaused(), false, 'a refused call changes nothing');
  } finally {
    await queue.close();
  }
});
