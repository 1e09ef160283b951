import { type IndexEntry, captureDecisionField, redisKeys } from '@gradcam/contracts';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import { closeConnection, connectionReady, createExplainQueue, createProducerConnection, enqueueExplainJobs } from '@gradcam/queue';
import { explainJobFixture } from '@gradcam/queue/test-fixtures';
import type { Redis } from 'ioredis';
import { InferenceIndex } from './inference-index.ts';

let server: RedisServer;
let redis: Redis;

before(async () => {
  server = await startRedisServer();
  redis = createProducerConnection(server.url, { onError: () => undefined });
  await connectionReady(redis);
});

after(async () => {
  await closeConnection(redis);
  await server.stop();
});

test('two attempts whose claims outlived a storage stall record the folder of the job the first one queued', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600, 50);
  // The second attempt's claim lasts: on a loaded machine 50 ms can pass before the first commits.
  const patient = new InferenceIndex(redis, prefix, 3600);
  const id = 'stalled-1';
  const entry = (folder: string, acceptedAt: number): IndexEntry => ({ folder, model: 'mobilenet', explain: true, reason: 'all', acceptedAt });
  try {
    assert.equal((await index.claim('first', [id]))[0]?.state, 'claimed');
    await sleep(80); // the first attempt's storage stalls past its claim
    assert.deepEqual(await patient.claim('second', [id]), [{ state: 'claimed' }], 'no job yet: the second attempt prepares its own folder');
    // The first attempt resumes: its job goes in, but the id is the second's now.
    const job = { ...explainJobFixture(id), folder: `mobilenet/v1/dt=2025-01-01/${id}/`, acceptedAt: 1_764_000_000_001 };
    await enqueueExplainJobs(queue, [job]);
    assert.deepEqual(await index.commit('first', [{ id, entry: entry(job.folder, job.acceptedAt) }]), [{ state: 'not-held' }]);
    // The second attempt's job add is ignored (same job id), and it records: the job's folder,
    // which is where the worker writes, not the one it prepared.
    assert.deepEqual(await index.commit('second', [{ id, entry: entry(`mobilenet/v1/dt=2025-01-02/${id}/`, 1_764_086_400_002) }]), [{ state: 'recorded' }]);
    assert.deepEqual(await index.get(id), entry(job.folder, job.acceptedAt));
  } finally {
    await queue.close();
  }
});

test('an entry without a job, or whose job names its folder, is recorded as given', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  try {
    const job = explainJobFixture('with-job');
    await index.claim('h', ['with-job', 'skipped']);
    await enqueueExplainJobs(queue, [job]);
    const given = { folder: job.folder, model: 'mobilenet', explain: true, reason: 'all', acceptedAt: job.acceptedAt } satisfies IndexEntry;
    const skipped = { ...given, folder: 'mobilenet/v1/dt=2025-01-01/skipped/', explain: false };
    assert.deepEqual(await index.commit('h', [{ id: 'with-job', entry: given }, { id: 'skipped', entry: skipped }]), [{ state: 'recorded' }, { state: 'recorded' }]);
    assert.deepEqual(await index.get('with-job'), given);
    assert.deepEqual(await index.get('skipped'), skipped);
  } finally {
    await queue.close();
  }
});

test('an id with a job but no entry (its commit failed: 503 ACCEPT_INCOMPLETE) is found through its job, claimed or not; without the job it is unknown', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  try {
    const job = explainJobFixture('uncommitted');
    await enqueueExplainJobs(queue, [job]);
    const fromJob = { folder: job.folder, model: job.model.name, explain: true, reason: job.capture.reason, acceptedAt: job.acceptedAt } satisfies IndexEntry;
    assert.deepEqual(await index.get('uncommitted'), fromJob);
    await index.claim('a-retry', ['uncommitted']);
    assert.deepEqual(await index.get('uncommitted'), fromJob, 'while a retry holds the id');
    await (await queue.getJob('uncommitted'))?.remove();
    assert.equal(await index.get('uncommitted'), undefined);
  } finally {
    await queue.close();
  }
});

test('lookup tells a claim (with its time left), where get skips it: with or without a job; an entry, or a job alone, is known; nothing is unknown', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600, 30_000);
  try {
    assert.deepEqual(await index.lookup('fresh'), { state: 'unknown' });
    await index.claim('accepting', ['fresh']);
    const claimed = await index.lookup('fresh');
    assert.equal(claimed.state, 'claimed');
    assert.ok(claimed.state === 'claimed' && claimed.lapsesInMs > 0 && claimed.lapsesInMs <= 30_000, JSON.stringify(claimed));
    assert.equal(await index.get('fresh'), undefined, 'get skips the claim');
    const entry: IndexEntry = { folder: 'mobilenet/v1/dt=2025-01-01/fresh/', model: 'mobilenet', explain: false, reason: 'all', acceptedAt: 1 };
    await index.commit('accepting', [{ id: 'fresh', entry }]);
    assert.deepEqual(await index.lookup('fresh'), { state: 'known', entry });

    const job = explainJobFixture('uncommitted');
    await enqueueExplainJobs(queue, [job]);
    const fromJob = { folder: job.folder, model: job.model.name, explain: true, reason: job.capture.reason, acceptedAt: job.acceptedAt } satisfies IndexEntry;
    assert.deepEqual(await index.lookup('uncommitted'), { state: 'known', entry: fromJob });
    await index.claim('a-retry', ['uncommitted']);
    assert.equal((await index.lookup('uncommitted')).state, 'claimed', 'a retry accepting it holds it');
    await index.release('a-retry', ['uncommitted']);
    assert.deepEqual(await index.lookup('uncommitted'), { state: 'known', entry: fromJob });

    // A holder that died (an ingest process killed mid-accept) leaves its claim to lapse: then unknown.
    await new InferenceIndex(redis, prefix, 3600, 50).claim('crashed', ['orphaned']);
    assert.equal((await index.lookup('orphaned')).state, 'claimed');
    await sleep(80);
    assert.deepEqual(await index.lookup('orphaned'), { state: 'unknown' });
  } finally {
    await queue.close();
  }
});

test('a claim or a commit that fails (a key of the wrong type) writes nothing: Redis does not undo a script that fails partway', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600);
  const entry: IndexEntry = { folder: 'm/v1/dt=2025-01-01/ok-1/', model: 'm', explain: true, reason: 'all', acceptedAt: 1 };
  await redis.set(keys.explainJob('odd-1'), 'not a hash');
  await assert.rejects(index.claim('first', ['ok-1', 'odd-1']), /WRONGTYPE/);
  assert.equal(await redis.exists(keys.inference('ok-1')), 0, 'ok-1 was not claimed: a retry is not told 409 for a minute');
  await redis.del(keys.explainJob('odd-1'));

  assert.equal((await index.claim('second', ['ok-1']))[0]?.state, 'claimed');
  await redis.set(keys.captureDecisions, 'not a hash');
  await assert.rejects(index.commit('second', [{ id: 'ok-1', entry }]), /WRONGTYPE/);
  assert.equal(await redis.get(keys.inference('ok-1')), 'claim:second', 'not recorded: the entry is written with its count or not at all');
  await redis.del(keys.captureDecisions);
  await redis.hset(keys.captureDecisions, 'm|explain|all', 'x');
  await assert.rejects(index.commit('second', [{ id: 'ok-1', entry }]), /not an integer/);
  assert.equal(await redis.get(keys.inference('ok-1')), 'claim:second');
  await redis.del(keys.captureDecisions);
  assert.deepEqual(await index.commit('second', [{ id: 'ok-1', entry }]), [{ state: 'recorded' }]);
  assert.deepEqual(await index.get('ok-1'), entry);
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { 'm|explain|all': '1' });
});

test('a confirm that fails (a key of the wrong type) writes nothing: no claim taken again, no pending folder written, for an id before the one that fails', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600);
  const pending = { folder: 'm/v1/dt=2025-01-01/ok-2/', model: 'm', version: 'v1', acceptedAt: 1 };
  assert.deepEqual(await index.claim('h', ['ok-2', 'odd-2']), [{ state: 'claimed' }, { state: 'claimed' }]);
  // Both claims lapsed: a confirm would take them again, reading odd-2's job and pending folder.
  await redis.del(keys.inference('ok-2'), keys.inference('odd-2'));
  for (const key of [keys.pendingFolder('odd-2'), keys.explainJob('odd-2'), keys.inference('odd-2')]) {
    if (key === keys.explainJob('odd-2')) await redis.set(key, 'not a hash');
    else await redis.hset(key, 'odd', '1');
    await assert.rejects(index.confirm('h', [{ id: 'ok-2', acceptedAt: 1, pending }, { id: 'odd-2', acceptedAt: 1 }]), /WRONGTYPE/);
    assert.equal(await redis.exists(keys.inference('ok-2')), 0, `${key}: ok-2's claim was not taken again`);
    assert.equal(await redis.exists(keys.pendingFolder('ok-2')), 0, `${key}: ok-2's pending folder was not written`);
    await redis.del(key);
  }
  await redis.set(keys.inference('odd-2'), 'claim:h');
  assert.deepEqual(await index.confirm('h', [{ id: 'ok-2', acceptedAt: 1, pending }, { id: 'odd-2', acceptedAt: 1 }]), [{ state: 'held' }, { state: 'held' }]);
  assert.equal(JSON.parse((await redis.get(keys.pendingFolder('ok-2'))) as string).folder, pending.folder);
});

test('a commit counts where HINCRBY can (Redis\'s integer rule, and no sum past 2^63-1), and where it cannot writes nothing', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600);
  const field = captureDecisionField('m', true, 'all');
  const max = '9223372036854775807';
  const counts = ['0', '1', '-1', '123', '007', '-0', '00', '', '-', '+1', ' 1', '1 ', '1.0', '1e3', '0x1', '9223372036854775805', '9223372036854775806', max, '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '999999999999999999', '9999999999999999999', '10000000000000000000', '99999999999999999999', '-999999999999999999'];
  let n = 0;
  for (const count of counts) {
    for (const add of [1, 2]) {
      await redis.del(`${prefix}:probe`);
      await redis.hset(`${prefix}:probe`, field, count);
      const hincrby = await redis.hincrby(`${prefix}:probe`, field, add).then(() => redis.hget(`${prefix}:probe`, field), () => 'refused');
      await redis.del(keys.captureDecisions);
      await redis.hset(keys.captureDecisions, field, count);
      const ids = Array.from({ length: add }, () => `count-${n++}`);
      await index.claim('h', ids);
      const entries = ids.map((id) => ({ id, entry: { folder: `m/v1/dt=2025-01-01/${id}/`, model: 'm', explain: true, reason: 'all', acceptedAt: 1 } satisfies IndexEntry }));
      // Refused by the script's own check, before any write; not by HINCRBY after others.
      const committed = await index.commit('h', entries).then(() => 'committed', (error: Error) => (/the capture-decisions count .* is not an integer/.test(error.message) ? 'refused' : error.message));
      const now = await redis.hget(keys.captureDecisions, field);
      assert.equal(committed === 'refused' ? 'refused' : now, hincrby, `${JSON.stringify(count)} + ${add}`);
      if (committed === 'refused') {
        assert.equal(now, count, 'the count is unchanged');
        assert.deepEqual(await redis.mget(ids.map((id) => keys.inference(id))), ids.map(() => 'claim:h'), 'nothing recorded');
      }
    }
  }
  // Beside a count it can add to, in either order: nothing is counted twice by the retry.
  const other = captureDecisionField('m', false, 'all');
  for (const [a, b] of [[field, other], [other, field]] as const) {
    await redis.del(keys.captureDecisions);
    await redis.hset(keys.captureDecisions, a, '5', b, '007');
    const ids = [`count-${n++}`, `count-${n++}`];
    await index.claim('h', ids);
    const entry = (explain: boolean) => ({ folder: 'm/v1/dt=2025-01-01/x/', model: 'm', explain, reason: 'all', acceptedAt: 1 }) satisfies IndexEntry;
    await assert.rejects(index.commit('h', [{ id: ids[0] as string, entry: entry(true) }, { id: ids[1] as string, entry: entry(false) }]), /the capture-decisions count/);
    assert.deepEqual(await redis.hgetall(keys.captureDecisions), { [a]: '5', [b]: '007' });
  }
});

test('a commit records an id whose enqueue-failed mark is set only for a request vouching for that mark, counting it once, and deletes the mark as it records', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600);
  const entry: IndexEntry = { folder: 'm/v1/dt=2025-01-01/marked-1/', model: 'm', explain: true, reason: 'all', acceptedAt: 1 };
  await index.markEnqueueFailed(['marked-1']);
  const [claim] = await index.claim('h', ['marked-1', 'plain-1']);
  assert.ok(claim?.state === 'claimed' && claim.enqueueFailed, 'the claim reports the mark, job or none');
  const { mark, withJob } = claim.enqueueFailed;
  assert.equal(withJob, false);
  // A failure since the claim marks the id anew: the claim's mark no longer vouches for it.
  await index.markEnqueueFailed(['marked-1']);
  const now = await redis.get(keys.enqueueFailed('marked-1'));
  assert.notEqual(now, mark, 'each failure marks with a value of its own');
  const plain = { id: 'plain-1', entry: { ...entry, folder: 'm/v1/dt=2025-01-01/plain-1/' } };
  assert.deepEqual(await index.commit('h', [{ id: 'marked-1', entry, checkedMark: mark }, plain]), [{ state: 'needs-check', mark: now }, { state: 'recorded' }]);
  assert.equal(await redis.get(keys.inference('marked-1')), 'claim:h', 'not recorded, still claimed');
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { 'm|explain|all': '1' }, 'counted for plain-1 alone');
  assert.deepEqual(await index.commit('h', [{ id: 'marked-1', entry }]), [{ state: 'needs-check', mark: now }], 'vouching for no mark');
  assert.deepEqual(await index.commit('h', [{ id: 'marked-1', entry, checkedMark: now as string }]), [{ state: 'recorded' }]);
  assert.deepEqual(await index.get('marked-1'), entry);
  assert.equal(await redis.exists(keys.enqueueFailed('marked-1')), 0, 'the mark went with the record');
  assert.deepEqual(await redis.hgetall(keys.captureDecisions), { 'm|explain|all': '2' });
});

test('confirm renews this holder\'s claims, claims again an id whose claim lapsed with nobody else on it (unless another attempt queued its job since), and tells another\'s claim or an entry', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const index = new InferenceIndex(redis, prefix, 3600, 60_000);
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const keys = redisKeys(prefix);
  const entry: IndexEntry = { folder: 'm/accepted-1/', model: 'mobilenet', explain: true, reason: 'all', acceptedAt: 1 };
  const acceptedAt = 1_764_000_000_001;
  const ids = ['held-1', 'lapsed-1', 'taken-1', 'accepted-1', 'queued-1', 'own-1'];
  try {
    await index.claim('a', ids);
    await redis.pexpire(keys.inference('held-1'), 100);
    await redis.del(...ids.slice(1).map((id) => keys.inference(id)));
    await index.claim('b', ['taken-1']);
    await redis.set(keys.inference('accepted-1'), JSON.stringify(entry));
    // Queued since by another attempt (answered ACCEPT_INCOMPLETE, its claim given back), and by this one.
    await enqueueExplainJobs(queue, [{ ...explainJobFixture('queued-1'), acceptedAt: acceptedAt + 100 }, { ...explainJobFixture('own-1'), acceptedAt }]);
    assert.deepEqual(
      await index.confirm('a', ids.map((id) => ({ id, acceptedAt }))),
      [{ state: 'held' }, { state: 'held' }, { state: 'not-held' }, { state: 'accepted', entry }, { state: 'not-held' }, { state: 'held' }],
    );
    for (const id of ['held-1', 'lapsed-1', 'own-1']) {
      assert.equal(await redis.get(keys.inference(id)), 'claim:a');
      assert.ok((await redis.pttl(keys.inference(id))) > 1000, `${id}: renewed for the claim's TTL`);
    }
    assert.equal(await redis.get(keys.inference('taken-1')), 'claim:b');
    assert.equal(await redis.get(keys.inference('queued-1')), null, 'not taken again');
  } finally {
    await queue.close();
  }
});

test('the claim, confirm, commit and lookup scripts touch only the keys they declare (enqueue-failed marks and pending folders included)', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  const job = explainJobFixture('marked-1');
  await enqueueExplainJobs(queue, [job]); // BullMQ's own scripts, not under test, run before the monitor starts
  const monitor = await redis.monitor();
  /** Per script run: the keys it declared, and the first argument of each command it ran (the key, for every command these scripts run). */
  const runs: { declared: string[]; touched: string[] }[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') return void runs.at(-1)?.touched.push(args[1] as string);
    if (args[0]?.toLowerCase() !== 'eval') return;
    runs.push({ declared: args.slice(3, 3 + Number(args[2])), touched: [] });
  });
  try {
    await index.markEnqueueFailed(['marked-1']);
    await index.claim('h', ['marked-1', 'new-1']);
    const entry = (id: string, folder: string): IndexEntry => ({ folder, model: 'mobilenet', explain: true, reason: 'all', acceptedAt: 1 });
    await index.confirm('h', [{ id: 'marked-1', acceptedAt: 1, pending: { folder: job.folder, model: 'mobilenet', version: 'v1', acceptedAt: 1 } }, { id: 'gone-1', acceptedAt: 1 }]);
    await index.lookup('new-1');
    await index.lookup('gone-1');
    await index.commit('h', [{ id: 'marked-1', entry: entry('marked-1', job.folder) }, { id: 'new-1', entry: entry('new-1', 'm/new-1/') }]);
    await index.lookup('marked-1');
    await sleep(50); // the monitor's last lines
    assert.ok(runs.length >= 3 && runs.some((run) => run.touched.some((key) => key.includes(':enqueue-failed:'))), JSON.stringify(runs));
    assert.ok(runs.some((run) => run.touched.some((key) => key.includes(':pending-folder:'))), JSON.stringify(runs));
    for (const run of runs) for (const key of run.touched) assert.ok(run.declared.includes(key), `${key} is declared: ${JSON.stringify(run.declared)}`);
  } finally {
    monitor.disconnect();
    await queue.close();
  }
});

test('a pending folder: written by confirm where the claim holds (entry TTL), read by the next claim and by lookup, kept from a lapsed attempt once another wrote it, deleted by the commit and by forget', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const index = new InferenceIndex(redis, prefix, 3600, 60_000);
  const pending = { folder: 'm/v1/dt=2026-11-26/p-1/', model: 'm', version: 'v1', acceptedAt: 1_764_201_599_500, image: 'm/v1/dt=2026-11-26/p-1/input.jpg' };
  await index.claim('a', ['p-1', 'taken-1']);
  await redis.del(keys.inference('taken-1')); // a's claim lost, b's in its place
  await index.claim('b', ['taken-1']);
  assert.deepEqual(await index.confirm('a', [{ id: 'p-1', acceptedAt: pending.acceptedAt, pending }, { id: 'taken-1', acceptedAt: 1, pending }]), [{ state: 'held' }, { state: 'not-held' }]);
  assert.equal(await redis.exists(keys.pendingFolder('taken-1')), 0, 'written only where the claim holds');
  const ttl = await redis.ttl(keys.pendingFolder('p-1'));
  assert.ok(ttl > 3590 && ttl <= 3600, `kept as long as an entry: ${ttl} s`);
  assert.equal((await index.lookup('p-1')).state, 'claimed', 'while its attempt holds it');

  // The attempt dies: its claim lapses. The id is unrecorded, its folder pending; a retry's claim finds it.
  await redis.del(keys.inference('p-1'));
  assert.deepEqual(await index.lookup('p-1'), { state: 'unrecorded', pending });
  assert.deepEqual(await index.claim('retry', ['p-1']), [{ state: 'claimed', pending }]);
  const { image: _image, ...byReference } = pending; // the retry sends its image by reference
  assert.deepEqual(await index.confirm('retry', [{ id: 'p-1', acceptedAt: pending.acceptedAt, pending: byReference }]), [{ state: 'held' }]);
  assert.deepEqual(await index.lookup('p-1').then((found) => found.state), 'claimed');
  // The retry gives its claim back (a storage failure): the first attempt, back from a stall, is not
  // let in again, since another attempt stored into the folder since; the retry's retry is.
  await index.release('retry', ['p-1']);
  assert.deepEqual(await index.confirm('a', [{ id: 'p-1', acceptedAt: pending.acceptedAt }]), [{ state: 'not-held' }]);
  assert.deepEqual(await index.confirm('retry', [{ id: 'p-1', acceptedAt: pending.acceptedAt }]), [{ state: 'held' }]);

  const entry: IndexEntry = { folder: pending.folder, model: 'm', explain: true, reason: 'all', acceptedAt: pending.acceptedAt };
  assert.deepEqual(await index.commit('retry', [{ id: 'p-1', entry }]), [{ state: 'recorded' }]);
  assert.equal(await redis.exists(keys.pendingFolder('p-1')), 0, 'recorded: the entry names the folder now');
  assert.deepEqual(await index.claim('later', ['p-1']), [{ state: 'accepted', entry }]);
  assert.deepEqual(await index.lookup('p-1'), { state: 'known', entry });

  await index.claim('c', ['p-2']);
  await index.confirm('c', [{ id: 'p-2', acceptedAt: 1, pending: { ...pending, folder: 'm/v1/dt=2026-11-26/p-2/' } }]);
  await index.release('c', ['p-2']);
  await index.forget('p-2');
  assert.equal(await redis.exists(keys.pendingFolder('p-2')), 0, 'an erasure forgets it');
  assert.deepEqual(await index.lookup('p-2'), { state: 'unknown' });
});

test('a claim writes the pending folder proposed for an id with neither job nor pending folder, takes on one found (marking it its own), and a release deletes only the one it wrote', async () => {
  const prefix = `t${Math.random().toString(36).slice(2, 10)}`;
  const keys = redisKeys(prefix);
  const queue = createExplainQueue({ connection: redis, prefix, onError: () => undefined });
  const index = new InferenceIndex(redis, prefix, 3600);
  const proposal = (id: string, acceptedAt: number) => ({ folder: `m/v1/dt=2026-11-26/${id}/`, model: 'm', version: 'v1', acceptedAt });
  try {
    const job = explainJobFixture('queued-1');
    await enqueueExplainJobs(queue, [job]);
    const ids = ['new-1', 'queued-1'];
    assert.deepEqual(await index.claim('a', ids, new Map(ids.map((id) => [id, proposal(id, 1)]))), [{ state: 'claimed' }, { state: 'claimed', job }]);
    assert.equal(JSON.parse((await redis.get(keys.pendingFolder('new-1'))) as string).holder, 'a');
    assert.equal(await redis.exists(keys.pendingFolder('queued-1')), 0, 'an id with a job stores into the job\'s folder');
    // The same script sent again (its reply lost): its own proposal is no earlier attempt's.
    assert.deepEqual(await index.claim('a', ['new-1'], new Map([['new-1', proposal('new-1', 1)]])), [{ state: 'claimed' }]);

    // Claim 'a' lapses; 'b' takes the id on, with the folder 'a' proposed, which is now b's.
    await redis.del(keys.inference('new-1'));
    assert.deepEqual(await index.claim('b', ['new-1'], new Map([['new-1', proposal('new-1', 2)]])), [{ state: 'claimed', pending: proposal('new-1', 1) }]);
    assert.equal(JSON.parse((await redis.get(keys.pendingFolder('new-1'))) as string).holder, 'b');
    await index.release('b', ['new-1'], new Map([['new-1', proposal('new-1', 2)]]));
    assert.equal(await redis.exists(keys.inference('new-1')), 0, 'the claim is given back');
    assert.equal(await redis.exists(keys.pendingFolder('new-1')), 1, 'not the earlier attempt\'s folder, which b did not write');
    await index.claim('c', ['fresh-1'], new Map([['fresh-1', proposal('fresh-1', 3)]]));
    await index.release('c', ['fresh-1'], new Map([['fresh-1', proposal('fresh-1', 3)]]));
    assert.equal(await redis.exists(keys.pendingFolder('fresh-1')), 0, 'the one its claim wrote');
  } finally {
    await queue.close();
  }
});
