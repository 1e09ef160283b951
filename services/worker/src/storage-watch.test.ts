import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type OutageProxy, type S3Server, startOutageProxy, startS3PermissionProxy, startS3Server } from '@gradcam/dev-services';
import { DeferJobError } from '@gradcam/queue';
import { S3BlobStore } from '@gradcam/storage';
import { JobFailure } from './job-failure.ts';
import { storageNotReadyReason } from '@gradcam/storage';
import { type StorageOutage, StorageWatch, handBackStorageFailures, probeStorage } from './storage-watch.ts';

// A real S3-compatible server, reached through a proxy the tests cut and restore.
const bucket = 'watched';
let s3: S3Server;
let proxy: OutageProxy;
const stores: S3BlobStore[] = [];

before(async () => {
  s3 = await startS3Server({ buckets: [bucket] });
  proxy = await startOutageProxy(s3.port);
});
after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await proxy?.close();
  await s3?.stop();
});

function storeOn(bucketName = bucket): S3BlobStore {
  const store = new S3BlobStore({ bucket: bucketName, region: s3.region, endpoint: `http://127.0.0.1:${proxy.port}`, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  stores.push(store);
  return store;
}

interface Watched {
  readonly watch: StorageWatch;
  readonly changes: [StorageOutage | undefined, StorageOutage | undefined][];
  readonly reminders: StorageOutage[];
  probes: number;
}

/** Waits until `done` holds, polling; fails after `timeoutMs` naming `what`. */
async function until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

function watchOf(store: S3BlobStore, options: { probeEveryMs?: number; remindEveryMs?: number } = {}): Watched {
  const watched: Watched = {
    changes: [],
    reminders: [],
    probes: 0,
    watch: new StorageWatch({
      probe: () => {
        watched.probes++;
        return probeStorage(store, 'watch-test');
      },
      probeEveryMs: options.probeEveryMs ?? 100,
      remindEveryMs: options.remindEveryMs ?? 60_000,
      onChange: (now, before) => watched.changes.push([now, before]),
      onStillOut: (outage) => watched.reminders.push(outage),
    }),
  };
  return watched;
}

test('while storage answers, a check says so and nothing is probed after it; out, one probe serves every check at once, it is probed until it answers, and each change is told once', { timeout: 30_000 }, async () => {
  const watched = watchOf(storeOn(), { probeEveryMs: 100, remindEveryMs: 250 });
  const { watch, changes } = watched;
  try {
    assert.equal(await watch.check(), undefined);
    await sleep(300);
    assert.equal(watched.probes, 1, 'no probe on a timer while storage answers');

    proxy.cut();
    const [first, second, third] = await Promise.all([watch.check(), watch.check(), watch.check()]);
    assert.equal(watched.probes, 2, 'one probe for three checks');
    assert.equal(first?.code, 'STORAGE_UNAVAILABLE');
    assert.equal(second, first);
    assert.equal(third, first);
    assert.equal(watch.outage, first);
    assert.equal(storageNotReadyReason(first as StorageOutage), 'storage: unavailable');
    assert.deepEqual(changes, [[first, undefined]]);
    // Polled, not slept: on a loaded machine the 100 ms probes come late (a fixed 600 ms once saw 4).
    const outSince = performance.now();
    await until(() => watched.probes >= 5 && watched.reminders.length >= 1, 20_000, 'probes every 100 ms and a reminder while out');
    const outForMs = performance.now() - outSince;
    assert.equal(changes.length, 1, 'out is told once');
    assert.ok(watched.reminders.length <= outForMs / 250 + 1, `a reminder per 250 ms at most: ${watched.reminders.length} in ${outForMs.toFixed(0)} ms`);
    assert.equal(watched.reminders[0]?.since, first?.since, 'one outage, from its first failed probe');

    proxy.restore();
    await until(() => watch.outage === undefined, 20_000, 'storage back, told by a probe');
    assert.equal(changes.length, 2);
    assert.equal(changes[1]?.[0], undefined, 'back');
    assert.equal(changes[1]?.[1]?.since, first?.since, 'the outage it ends, from its first failed probe');
    const probes = watched.probes;
    await sleep(300);
    assert.equal(watched.probes, probes, 'no more probes once it answers');
  } finally {
    proxy.restore();
    watch.close();
  }
});

test('a store that still reads but will not write is an outage: the probe writes every time, not only when its object is missing', { timeout: 30_000 }, async () => {
  // The probe object is there already (an earlier start, ingest's readiness, npm start's check).
  await probeStorage(storeOn(), 'watch-test');
  const readOnly = await startS3PermissionProxy(s3.endpoint, ['s3:PutObject']);
  const store = new S3BlobStore({ bucket, region: s3.region, endpoint: readOnly.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
  stores.push(store);
  const { watch, changes } = watchOf(store);
  try {
    const outage = await watch.check();
    assert.equal(outage?.code, 'STORAGE_ACCESS_DENIED', 'a HEAD of the existing probe passed: every job then failed for good storing its explanation');
    assert.equal(storageNotReadyReason(outage as StorageOutage), 'storage: access denied');
    assert.equal(changes.length, 1);
  } finally {
    watch.close();
    await readOnly.stop();
  }
});

test('a bucket that does not exist is an outage too, named as such', { timeout: 30_000 }, async () => {
  const { watch, changes } = watchOf(storeOn('no-such-bucket'));
  try {
    const outage = await watch.check();
    assert.equal(outage?.code, 'STORAGE_BUCKET_NOT_FOUND');
    assert.equal(storageNotReadyReason(outage as StorageOutage), 'storage: bucket not found');
    assert.equal(changes.length, 1);
  } finally {
    watch.close();
  }
});

test('a batch\'s storage failures are handed back (no attempt) only while storage is out; bad input fails as ever; a batch without storage failures probes nothing', { timeout: 30_000 }, async () => {
  const watched = watchOf(storeOn());
  const { watch } = watched;
  const unavailable = new JobFailure('STORAGE_UNAVAILABLE', 'storing the explanation: S3 PutObject failed', false);
  const notFound = new JobFailure('STORAGE_NOT_FOUND', 'reading inputs/x.jpg: no such key', true);
  const corrupt = new JobFailure('IMAGE_CORRUPT', 'decoding the image: truncated', true);
  const result = { manifestKey: 'a/explanation.json' };
  try {
    assert.deepEqual(await handBackStorageFailures(watch, [result, corrupt, notFound], 5_000), [result, corrupt, notFound]);
    assert.equal(watched.probes, 0, 'nothing to blame on storage: no probe');

    // Storage answers: the failure is the job's own (a blip, a key refused), and uses an attempt.
    assert.deepEqual(await handBackStorageFailures(watch, [result, unavailable], 5_000), [result, unavailable]);
    assert.equal(watched.probes, 1);

    proxy.cut();
    const outcomes = await handBackStorageFailures(watch, [result, unavailable, corrupt, notFound], 5_000);
    assert.deepEqual(outcomes.slice(0, 1), [result]);
    assert.ok(outcomes[1] instanceof DeferJobError);
    assert.equal(outcomes[1].code, 'STORAGE_UNAVAILABLE');
    assert.equal(outcomes[1].delayMs, 5_000);
    assert.deepEqual(outcomes.slice(2), [corrupt, notFound], 'input that is bad fails at once, outage or not');
  } finally {
    proxy.restore();
    watch.close();
  }
});
