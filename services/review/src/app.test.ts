import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { type ExplanationManifest, type ReviewItem, camMethodSchema, redisKeys } from '@gradcam/contracts';
import { startRedisServer, startS3Server } from '@gradcam/dev-services';
import { connectionReady, createProducerConnection } from '@gradcam/queue';
import { FsBlobStore, S3BlobStore } from '@gradcam/storage';
import { alice, appTestKit } from './app-test-kit.ts';
import { hookedStore } from './hooked-store.ts';
import { reviewItem as item } from './review-item-fixture.ts';

// The HTTP surface through app.inject(), on a real Redis and a real (filesystem) store.
const { redis, rootDir, store, setup } = await appTestKit('app');

const manifestFixture = await readFile(new URL('./fixtures/sheep-explanation.json', import.meta.url));
/** The photo the fixture manifest explains (its bytes are the manifest's input.bytes). */
const sheepPhoto = await readFile(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));

interface StoredFiles {
  /** Where prediction.json says the image is: the item's input.jpg unless given (an s3:// reference of the client's). */
  readonly image?: { key: string } | { uri: string };
  /** The manifest to store (the fixture's, from `gradcam explain`, unless given). */
  readonly manifest?: Buffer;
  /** Files of the item's folder left out. */
  readonly without?: readonly string[];
}

/**
 * Stores the files a lease shows: a real manifest from `gradcam explain`, a prediction naming the
 * image, the photo it explains (as the item's input, or at a referenced key) and each overlay
 * and raw map the manifest lists, of the size it records.
 */
async function storeFiles(reviewed: ReviewItem, options: StoredFiles = {}): Promise<void> {
  const image = options.image ?? { key: `${reviewed.folder}input.jpg` };
  const prediction = {
    schemaVersion: 1,
    inferenceId: reviewed.inferenceId,
    acceptedAt: new Date().toISOString(),
    model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', versionGiven: false },
    image,
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
  const manifest = options.manifest ?? manifestFixture;
  const artifacts = (JSON.parse(manifest.toString('utf8')) as ExplanationManifest).explanations.flatMap((e) => [e.overlay, e.rawMap]);
  const files: [string, Buffer, string][] = [
    ['explanation.json', manifest, 'application/json'],
    ['prediction.json', Buffer.from(JSON.stringify(prediction)), 'application/json'],
    ...artifacts.map((a): [string, Buffer, string] => [a.path, Buffer.alloc(a.bytes, 0x5a), a.contentType]),
  ];
  for (const [name, body, contentType] of files) {
    if (!options.without?.includes(name)) await store.put(`${reviewed.folder}${name}`, body, { contentType });
  }
  const imageKey = 'key' in image ? image.key : new URL(image.uri).pathname.slice(1);
  if (!options.without?.includes('input.jpg')) await store.put(imageKey, sheepPhoto, { contentType: 'image/jpeg' });
}

const errorCode = (body: string) => (JSON.parse(body) as { error?: { code?: string } }).error?.code;

test('ids of up to 128 characters reach every item route; longer or malformed ones are 400 ID_INVALID', async () => {
  const { pool, app } = setup();
  // Three 128-character ids: one released, one skipped, one judged.
  for (const last of ['a', 'b', 'c']) await pool.add(item(`${'x'.repeat(127)}${last}`));
  for (const suffix of ['/release', '/skip', '']) {
    const leased = await pool.lease('alice', 60_000, { model: 'm' });
    assert.equal(leased?.inferenceId.length, 128);
    const response = await app.inject({ method: 'POST', url: `/v1/reviews/${leased.inferenceId}${suffix}`, headers: alice, ...(suffix === '' && { payload: { verdict: 'supports' } }) });
    assert.equal(response.statusCode, 200, `${suffix || 'verdict'}: ${response.body}`);
  }
  for (const bad of ['y'.repeat(129), 'y'.repeat(300), 'a.b', '%20']) {
    for (const suffix of ['', '/release', '/skip']) {
      const response = await app.inject({ method: 'POST', url: `/v1/reviews/${bad}${suffix}`, headers: alice, payload: { verdict: 'supports' } });
      assert.deepEqual([response.statusCode, errorCode(response.body)], [400, 'ID_INVALID'], `${bad.slice(0, 10)}…${suffix}`);
    }
  }
});

test('an item whose stored files are missing or invalid is set aside, answered 500 REVIEW_ITEM_BROKEN without storage paths', async () => {
  const { prefix, pool, app } = setup();
  const invalid = item(`badman-${Date.now()}`, { sampling: { sampled: true, policy: 'p', reason: 'r', priority: 0.9 } });
  for (const name of ['prediction.json', 'explanation.json']) await store.put(`${invalid.folder}${name}`, Buffer.from('{}'), { contentType: 'application/json' });
  await pool.add(invalid);
  await pool.add(item(`missing-${Date.now()}`));
  for (const [id, reason] of [[invalid.inferenceId, /fails its schema/], [/^missing-/, /prediction\.json is missing/]] as const) {
    const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
    assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'REVIEW_ITEM_BROKEN'], response.body);
    assert.match(response.body, reason);
    assert.doesNotMatch(response.body, new RegExp(rootDir.replaceAll('/', '\\/')), 'no server paths');
    const listed = (JSON.parse((await app.inject({ method: 'GET', url: '/v1/reviews?status=broken', headers: alice })).body) as { items: ReviewItem[] }).items;
    const brokenItem = listed.find((x) => (typeof id === 'string' ? x.inferenceId === id : id.test(x.inferenceId)));
    assert.equal(brokenItem?.status, 'broken');
    assert.match(brokenItem.brokenReason ?? '', reason);
  }
  assert.deepEqual(await pool.backlog(), { pending: 0, leased: 0, oldestPendingAt: undefined }, 'neither waits nor stays leased');
  const after = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(after.statusCode, 204, 'a broken item is not handed out again');
  // Counted per model for the exporter's gradcam_review_broken_total.
  assert.equal(await redis.hget(redisKeys(prefix).reviewBroken, 'm'), '2');
});

test('an item whose input, an overlay or a raw map is missing is set aside: 500 REVIEW_ITEM_BROKEN naming the file, and no verdict lands', async () => {
  const cases = [
    ['input.jpg', /the input image is missing/],
    ['gradcam-2.overlay.jpg', /gradcam-2\.overlay\.jpg is missing/],
    ['gradcam-2.npy', /gradcam-2\.npy is missing/],
  ] as const;
  for (const [gone, reason] of cases) {
    const { pool, app } = setup();
    const waiting = item(`gone-${gone.replaceAll('.', '-')}-${Date.now()}`);
    await storeFiles(waiting, { without: [gone] });
    await pool.add(waiting);
    const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
    assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'REVIEW_ITEM_BROKEN'], `${gone}: ${response.body}`);
    assert.match(response.body, reason);
    assert.doesNotMatch(response.body, new RegExp(rootDir.replaceAll('/', '\\/')), 'no server paths');
    const kept = await pool.get(waiting.inferenceId);
    assert.deepEqual([kept?.status, kept?.brokenReason?.match(reason) !== null], ['broken', true], gone);
    const verdict = await app.inject({ method: 'POST', url: `/v1/reviews/${waiting.inferenceId}`, headers: alice, payload: { verdict: 'supports' } });
    assert.deepEqual([verdict.statusCode, errorCode(verdict.body)], [409, 'REVIEW_NOT_LEASED'], 'a verdict on evidence never shown is refused');
    assert.equal(await store.exists(`${waiting.folder}review.json`), false, 'nothing written to review.json');
    assert.deepEqual(await pool.backlog(), { pending: 0, leased: 0, oldestPendingAt: undefined });
  }
});

test("a packet says when its links stop working (urlsExpireAt), never later than any link's own expiry", async () => {
  const { pool, app } = setup();
  const leased = item(`expiry-${Date.now()}`);
  await storeFiles(leased);
  await pool.add(leased);
  const before = Date.now();
  const shown = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(shown.statusCode, 200, shown.body);
  const { urls, urlsExpireAt } = JSON.parse(shown.body) as { urls: Record<string, string>; urlsExpireAt: string };
  const expireAt = Date.parse(urlsExpireAt);
  // The kit signs for 60 s.
  assert.ok(expireAt > before + 58_000 && expireAt <= Date.now() + 60_000, `${urlsExpireAt} is about a minute from now`);
  for (const link of Object.values(urls)) assert.ok(Number(new URL(link).searchParams.get('expires')) * 1000 >= expireAt, `${link} lasts at least until ${urlsExpireAt}`);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${leased.inferenceId}/release`, headers: alice })).statusCode, 200);
});

test('an s3:// reference the client replaced after the explanation: shown while it is the photo explained, set aside once its size differs', async () => {
  const { pool, app } = setup();
  const referenced = item(`replaced-${Date.now()}`);
  const key = `client-owned/${referenced.inferenceId}/photo.jpg`;
  await storeFiles(referenced, { image: { uri: `s3://client-bucket/${key}` } });
  await pool.add(referenced);
  const shown = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(shown.statusCode, 200, shown.body);
  assert.deepEqual(Object.keys((JSON.parse(shown.body) as { urls: Record<string, string> }).urls).sort(), ['gradcam-2.npy', 'gradcam-2.overlay.jpg', 'image']);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${referenced.inferenceId}/release`, headers: alice })).statusCode, 200);

  // The client puts another photo at the same key: the overlay would be shown next to it.
  const other = await readFile(new URL('../../../test/fixtures/images/people-group.jpg', import.meta.url));
  assert.notEqual(other.length, sheepPhoto.length);
  await store.put(key, other, { contentType: 'image/jpeg' });
  const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'REVIEW_ITEM_BROKEN'], response.body);
  const reason = new RegExp(`the input image is not the one explained: it is ${other.length} bytes, explanation\\.json records ${sheepPhoto.length} \\(replaced since\\)`);
  assert.match(response.body, reason);
  assert.doesNotMatch(response.body, /client-owned/, 'no storage key');
  assert.match((await pool.get(referenced.inferenceId))?.brokenReason ?? '', reason);
});

test('an s3:// reference replaced by another photo of the very same size: set aside, its sha256 differing', async () => {
  const { pool, app } = setup();
  const referenced = item(`same-size-${Date.now()}`);
  const key = `client-owned/${referenced.inferenceId}/photo.jpg`;
  await storeFiles(referenced, { image: { uri: `s3://client-bucket/${key}` } });
  await pool.add(referenced);
  // One byte changed inside the JPEG's scan data: the size, the format and the header are the same.
  const altered = Buffer.from(sheepPhoto);
  const at = altered.length - 100;
  altered[at] = (altered[at] as number) ^ 0x01;
  await store.put(key, altered, { contentType: 'image/jpeg' });
  const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'REVIEW_ITEM_BROKEN'], response.body);
  const reason = /the input image is not the one explained: its sha256 differs from the one explanation\.json records \(replaced since\)/;
  assert.match(response.body, reason);
  assert.match((await pool.get(referenced.inferenceId))?.brokenReason ?? '', reason);
});

test('an input replaced by a larger one between its HEAD and its read is not read whole: set aside, "larger than" recorded', async () => {
  const referenced = item(`raced-${Date.now()}`);
  const key = `client-owned/${referenced.inferenceId}/photo.jpg`;
  let gets = 0;
  let largestGet = 0;
  const racing = hookedStore(store, {
    // The client replaces its object with a 4 MiB one just after the desk's HEAD saw the old size.
    beforeGet: async (got) => {
      if (got !== key) return;
      gets++;
      await store.put(key, Buffer.alloc(4 * 1024 * 1024, 0x5a), { contentType: 'image/jpeg' });
    },
  });
  const reading: typeof racing = { ...racing, get: async (got, options) => {
    const body = await racing.get(got, options);
    largestGet = Math.max(largestGet, body.length);
    return body;
  } };
  const { pool, app } = setup({ store: reading });
  await storeFiles(referenced, { image: { uri: `s3://client-bucket/${key}` } });
  await pool.add(referenced);
  const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'REVIEW_ITEM_BROKEN'], response.body);
  assert.match(response.body, new RegExp(`the input image is not the one explained: it is larger than the ${sheepPhoto.length} bytes explanation\\.json records \\(replaced since\\)`));
  assert.equal(gets, 1);
  assert.ok(largestGet < 1024 * 1024, `the input was not read whole (${largestGet} bytes read at most)`);
});

test('an item explained by every method for five classes: each of its files HEADed once, at most 8 at a time; the first missing one is named', async () => {
  let inFlight = 0;
  let peak = 0;
  const headed: string[] = [];
  const counting = hookedStore(store, {
    beforeHead: async (key) => {
      headed.push(key);
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
    afterHead: () => void inFlight--,
  });
  const { pool, app } = setup({ store: counting });
  const fixture = JSON.parse(manifestFixture.toString('utf8')) as ExplanationManifest;
  const [entry] = fixture.explanations;
  assert.ok(entry);
  const explanations = camMethodSchema.options.flatMap((method) =>
    [0, 1, 2, 3, 4].map((classIndex) => ({ ...entry, method, classIndex, rawMap: { ...entry.rawMap, path: `${method}-${classIndex}.npy` }, overlay: { ...entry.overlay, path: `${method}-${classIndex}.overlay.jpg` } })),
  );
  const wide = item(`wide-${Date.now()}`);
  await storeFiles(wide, { manifest: Buffer.from(JSON.stringify({ ...fixture, explanations })) });
  await pool.add(wide);
  const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(response.statusCode, 200, response.body);
  const files = 1 + 2 * explanations.length;
  assert.equal(Object.keys((JSON.parse(response.body) as { urls: Record<string, string> }).urls).length, files);
  assert.deepEqual([headed.length, new Set(headed).size], [files, files], 'one HEAD per file');
  assert.ok(peak > 1 && peak <= 8, `HEADs in flight at most: ${peak}`);

  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${wide.inferenceId}/release`, headers: alice })).statusCode, 200);
  for (const path of ['scorecam-4.overlay.jpg', 'gradcam++-1.npy', 'layercam-0.overlay.jpg']) await store.delete(`${wide.folder}${path}`);
  const broken = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.deepEqual([broken.statusCode, errorCode(broken.body)], [500, 'REVIEW_ITEM_BROKEN'], broken.body);
  assert.match(broken.body, /gradcam\+\+-1\.npy is missing, and 2 more of its files are missing or changed/, 'the first in the manifest\'s order');
});

test('storage unreachable while building the packet: 503, the item goes straight back to the pool', async () => {
  const closed = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: 'review-app-test-secret' });
  await closed.close();
  const { pool, app } = setup({ store: closed });
  const waiting = item(`down-${Date.now()}`);
  await pool.add(waiting);
  const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.deepEqual([response.statusCode, errorCode(response.body)], [503, 'DEPENDENCY_UNAVAILABLE'], response.body);
  assert.doesNotMatch(response.body, new RegExp(rootDir.replaceAll('/', '\\/')));
  assert.equal((await pool.get(waiting.inferenceId))?.status, 'pending', 'released, not left leased');
});

test('a stored item that fails its schema does not break listings or exports', async () => {
  const { prefix, pool, app } = setup();
  for (let i = 0; i < 600; i++) await pool.add(item(`e${String(i).padStart(4, '0')}`, { sampledAt: 1_000_000 + i }));
  // Old enough to be read on the second page of an export.
  await redis.set(`${prefix}:review:item:e0010`, JSON.stringify({ ...item('e0010'), probability: 'high' }));
  const page = await app.inject({ method: 'GET', url: '/v1/reviews?limit=1000', headers: alice });
  assert.equal(page.statusCode, 200, page.body);
  assert.equal((JSON.parse(page.body) as { items: unknown[] }).items.length, 599);
  const exported = await app.inject({ method: 'GET', url: '/v1/reviews?format=jsonl', headers: alice });
  assert.equal(exported.statusCode, 200);
  assert.equal(exported.body.split('\n').filter(Boolean).length, 599, 'every other item exported');
  const csv = await app.inject({ method: 'GET', url: '/v1/reviews?format=csv', headers: alice });
  assert.equal(csv.body.split('\r\n').filter(Boolean).length, 600, 'header and 599 rows');
});

test('empty from/to mean "not given"; an oversized body is 413 BODY_TOO_LARGE as in ingest', async () => {
  const { pool, app } = setup();
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 3; i++) await pool.add(item(`q${i}`, { sampledAt: base + i }));
  const empty = await app.inject({ method: 'GET', url: '/v1/reviews?from=&to=&status=&limit=', headers: alice });
  assert.equal(empty.statusCode, 200, empty.body);
  assert.equal((JSON.parse(empty.body) as { items: unknown[] }).items.length, 3, 'not a window ending at epoch 0');
  const windowed = await app.inject({ method: 'GET', url: `/v1/reviews?from=${base + 1}&to=`, headers: alice });
  assert.equal((JSON.parse(windowed.body) as { items: unknown[] }).items.length, 2);
  const big = await app.inject({ method: 'POST', url: '/v1/reviews/q0', headers: { ...alice, 'content-type': 'application/json' }, payload: JSON.stringify({ verdict: 'supports', comment: 'x'.repeat(70_000) }) });
  assert.deepEqual([big.statusCode, errorCode(big.body)], [413, 'BODY_TOO_LARGE']);
});

test('a verdict body with a key it does not know (a misspelt comment) is 400 naming it, not a verdict without its comment', async () => {
  const { pool, app } = setup();
  await pool.add(item('strict-1'));
  await pool.lease('alice', 60_000);
  const response = await app.inject({ method: 'POST', url: '/v1/reviews/strict-1', headers: alice, payload: { verdict: 'supports', coment: 'the heatmap sits on the watermark' } });
  assert.deepEqual([response.statusCode, errorCode(response.body)], [400, 'REQUEST_INVALID'], response.body);
  assert.match(response.body, /coment/);
  assert.equal((await pool.get('strict-1'))?.status, 'leased', 'no verdict was kept');
});

test('exports refuse cursor and limit (they page format=json only); unknown routes answer in the API error shape', async () => {
  const { app } = setup();
  for (const url of ['/v1/reviews?format=csv&limit=10', '/v1/reviews?format=jsonl&cursor=abc']) {
    const response = await app.inject({ method: 'GET', url, headers: alice });
    assert.deepEqual([response.statusCode, errorCode(response.body)], [400, 'REQUEST_INVALID'], url);
    assert.match(response.body, /page format=json only/);
  }
  const unknown = await app.inject({ method: 'GET', url: '/v1/review/next?sig=secret', headers: alice });
  assert.deepEqual([unknown.statusCode, errorCode(unknown.body)], [404, 'ROUTE_NOT_FOUND']);
  assert.doesNotMatch(unknown.body, /secret/);
  assert.equal(unknown.headers['x-content-type-options'], 'nosniff');
});

test('Redis down: every pool route answers 503 DEPENDENCY_UNAVAILABLE with Retry-After, nothing is reported as a fault', async () => {
  const own = await startRedisServer();
  const connection = createProducerConnection(own.url, { name: 'review-app-test', onError: () => {} });
  const { pool, app, internalErrors } = setup({ connection });
  try {
    await connectionReady(connection);
    await pool.add(item('held-when-redis-went'));
    await own.stop();
    const routes = [
      ['GET', '/v1/reviews/next'],
      ['GET', '/v1/reviews'],
      ['GET', '/v1/reviews?format=csv'],
      ['POST', '/v1/reviews/held-when-redis-went', { verdict: 'supports' }],
      ['POST', '/v1/reviews/held-when-redis-went/release'],
      ['POST', '/v1/reviews/held-when-redis-went/skip'],
    ] as const;
    for (const [method, url, payload] of routes) {
      const response = await app.inject({ method, url, headers: alice, ...(payload && { payload }) });
      assert.deepEqual([response.statusCode, errorCode(response.body)], [503, 'DEPENDENCY_UNAVAILABLE'], `${method} ${url}: ${response.body}`);
      assert.equal(response.headers['retry-after'], '5', url);
      // The error's own words (they name hosts and ports) are for the log only.
      assert.match(response.json<{ error: { message: string } }>().error.message, /^Redis is unavailable; retry later \(request id [0-9a-f-]{36}\)$/, url);
    }
    assert.deepEqual(internalErrors, []);
  } finally {
    connection.disconnect();
    await own.stop();
  }
});

test('storage refusing the request (its bucket is missing): 500 INTERNAL, reported, no storage detail; the item goes back to the pool', async () => {
  const s3 = await startS3Server({ buckets: ['present'] });
  const { endpoint, region, accessKeyId, secretAccessKey } = s3;
  const missingBucket = new S3BlobStore({ endpoint, region, accessKeyId, secretAccessKey, bucket: 'absent', forcePathStyle: true });
  const { pool, app, internalErrors, internalErrorIds } = setup({ store: missingBucket });
  try {
    const waiting = item(`no-bucket-${Date.now()}`);
    await pool.add(waiting);
    const response = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
    assert.deepEqual([response.statusCode, errorCode(response.body)], [500, 'INTERNAL'], response.body);
    assert.match(response.body, /STORAGE_BUCKET_NOT_FOUND/);
    assert.doesNotMatch(response.body, /absent|prediction\.json/, 'neither the bucket nor the key');
    assert.equal(response.headers['retry-after'], undefined, 'a retry will not cure it');
    assert.equal(internalErrors.length, 1, 'the whole error goes to the log');
    assert.equal(
      JSON.parse(response.body).error.message,
      `storage refused the request (STORAGE_BUCKET_NOT_FOUND): a deployment problem; the service's log has the details under request id ${internalErrorIds[0]}`,
      'the log has it under the id the answer names',
    );
    assert.equal((await pool.get(waiting.inferenceId))?.status, 'pending', 'released, not left leased');
  } finally {
    await missingBucket.close();
    await s3.stop();
  }
});

test('a broken item is restored once its files are repaired: refused while still broken, then pending and handed out', async () => {
  const { pool, app } = setup();
  const broken = item(`restore-${Date.now()}`);
  await pool.add(broken);
  const post = (url: string) => app.inject({ method: 'POST', url, headers: alice });
  assert.equal((await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice })).statusCode, 500, 'set aside: prediction.json is missing');

  // The operator repairs the folder: a real manifest (from `gradcam explain`) first, its
  // prediction still missing, then the prediction.
  const manifest = await readFile(new URL('./fixtures/sheep-explanation.json', import.meta.url));
  await store.put(`${broken.folder}explanation.json`, manifest, { contentType: 'application/json' });
  const stillBroken = await post(`/v1/reviews/${broken.inferenceId}/restore`);
  assert.deepEqual([stillBroken.statusCode, errorCode(stillBroken.body)], [409, 'REVIEW_ITEM_STILL_BROKEN'], stillBroken.body);
  assert.match(stillBroken.body, /prediction\.json is missing/);
  assert.equal((await pool.get(broken.inferenceId))?.status, 'broken', 'still set aside');

  const prediction = {
    schemaVersion: 1,
    inferenceId: broken.inferenceId,
    acceptedAt: new Date().toISOString(),
    model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', versionGiven: false },
    image: { key: `${broken.folder}input.jpg` },
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
  await store.put(`${broken.folder}prediction.json`, Buffer.from(JSON.stringify(prediction)), { contentType: 'application/json' });
  const noEvidence = await post(`/v1/reviews/${broken.inferenceId}/restore`);
  assert.deepEqual([noEvidence.statusCode, errorCode(noEvidence.body)], [409, 'REVIEW_ITEM_STILL_BROKEN'], noEvidence.body);
  assert.match(noEvidence.body, /the input image is missing, and 2 more of its files are missing or changed/, 'the photo, the overlay and the raw map are checked too');
  await storeFiles(broken);

  const restored = await post(`/v1/reviews/${broken.inferenceId}/restore`);
  assert.equal(restored.statusCode, 200, restored.body);
  const restoredItem = (JSON.parse(restored.body) as { item: ReviewItem }).item;
  assert.equal(restoredItem.status, 'pending');
  assert.equal(restoredItem.brokenReason, undefined);
  assert.deepEqual(await pool.backlog(), { pending: 1, leased: 0, oldestPendingAt: broken.sampledAt });
  const next = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(next.statusCode, 200, next.body);
  assert.equal((JSON.parse(next.body) as { item: ReviewItem }).item.inferenceId, broken.inferenceId);

  const again = await post(`/v1/reviews/${broken.inferenceId}/restore`);
  assert.deepEqual([again.statusCode, errorCode(again.body)], [409, 'REVIEW_NOT_BROKEN']);
  const unknown = await post('/v1/reviews/never-sampled/restore');
  assert.deepEqual([unknown.statusCode, errorCode(unknown.body)], [404, 'REVIEW_NOT_FOUND']);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${broken.inferenceId}/restore` })).statusCode, 401);
});

test('/next with another model filter while a lease is live answers the item held (one lease per reviewer), never a second one', async () => {
  const { pool, app } = setup();
  const stamp = Date.now();
  for (const model of ['m1', 'm2', 'm3']) {
    const waiting = item(`${model}-${stamp}`, { model, folder: `${model}/v1/dt=2026-11-26/${model}-${stamp}/`, sampledAt: stamp - 1_000 });
    await storeFiles(waiting);
    await pool.add(waiting);
  }
  const answers: ReviewItem[] = [];
  for (const model of ['m1', 'm2', 'm3']) {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews/next?model=${model}`, headers: alice });
    assert.equal(response.statusCode, 200, response.body);
    answers.push((JSON.parse(response.body) as { item: ReviewItem }).item);
  }
  assert.deepEqual(answers.map((a) => [a.inferenceId, a.model]), Array.from({ length: 3 }, () => [`m1-${stamp}`, 'm1']), 'the m1 item each time');
  // Renewed each time it is answered (a reloaded page's late release then names a lease that no longer is).
  const expiries = answers.map((a) => a.leaseExpiresAt ?? 0);
  assert.ok(expiries.every((at, i) => i === 0 || at > (expiries[i - 1] ?? 0)), `each lease later than the one before: ${expiries.join(', ')}`);
  const leased = JSON.parse((await app.inject({ method: 'GET', url: '/v1/reviews?status=leased', headers: alice })).body) as { items: ReviewItem[] };
  assert.deepEqual(leased.items.map((i) => i.inferenceId), [`m1-${stamp}`], 'alice holds one item');
  assert.deepEqual(await pool.backlog(), { pending: 2, leased: 1, oldestPendingAt: stamp - 1_000 });
});

test('?status=pending lists an item whose lease ran out, ?status=leased no longer does', async () => {
  const { pool, app } = setup();
  const lapsed = item(`lapsed-${Date.now()}`);
  await pool.add(lapsed);
  await pool.lease('alice', 50);
  await new Promise((resolve) => setTimeout(resolve, 150));
  const listed = async (status: string) => (JSON.parse((await app.inject({ method: 'GET', url: `/v1/reviews?status=${status}`, headers: alice })).body) as { items: ReviewItem[] }).items;
  assert.deepEqual((await listed('pending')).map((i) => [i.inferenceId, i.status, i.leasedBy]), [[lapsed.inferenceId, 'pending', undefined]]);
  assert.deepEqual(await listed('leased'), []);
});

test('exports show an item\'s numbers as the worker wrote them, after a lease and a release', async () => {
  const { pool, app } = setup();
  const precise = item(`digits-${Date.now()}`, {
    probability: 0.12345678901234568,
    sampling: { sampled: true, policy: 'budget=60', reason: 'budget', priority: 0.9876543210987654, threshold: 0.123456789012344, rank: 0.123456789012341 },
  });
  await pool.add(precise);
  await pool.lease('alice', 60_000);
  assert.equal((await app.inject({ method: 'POST', url: `/v1/reviews/${precise.inferenceId}/release`, headers: alice })).statusCode, 200);
  const jsonl = await app.inject({ method: 'GET', url: '/v1/reviews?format=jsonl', headers: alice });
  assert.deepEqual(JSON.parse(jsonl.body) as ReviewItem, precise);
  const csv = (await app.inject({ method: 'GET', url: '/v1/reviews?format=csv', headers: alice })).body;
  for (const digits of ['0.12345678901234568', '0.9876543210987654']) assert.ok(csv.includes(`,${digits},`), `${digits} in ${csv}`);
});

test('the review page cannot be framed by another site, and runs only its own script and style', async () => {
  const { app } = setup();
  for (const url of ['/', '/app.js', '/page-kit.js', '/page-render.js', '/style.css']) {
    const response = await app.inject({ method: 'GET', url });
    assert.equal(response.statusCode, 200, url);
    assert.equal(response.headers['x-frame-options'], 'DENY', url);
    const policy = String(response.headers['content-security-policy']);
    for (const directive of ["frame-ancestors 'none'", "default-src 'self'", "object-src 'none'", "base-uri 'none'"]) assert.ok(policy.split(/;\s*/).includes(directive), `${url}: ${directive} in ${policy}`);
  }
});

test('from/to take epoch ms, ISO date-times with Z or an offset, and bare dates (a whole UTC day, both ends inclusive)', async () => {
  const { pool, app } = setup();
  const at = (iso: string) => Date.parse(iso);
  for (const [id, iso] of [['before', '2026-01-01T21:59:59.999Z'], ['start', '2026-01-01T22:00:00.000Z'], ['late', '2026-01-02T23:59:59.999Z'], ['after', '2026-01-03T00:00:00.000Z']] as const) {
    await pool.add(item(`${id}-window`, { sampledAt: at(iso) }));
  }
  const ids = async (query: string) => {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews?${query}`, headers: alice });
    assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
    return (JSON.parse(response.body) as { items: ReviewItem[] }).items.map((i) => i.inferenceId.replace('-window', ''));
  };
  const offset = await ids(`from=${encodeURIComponent('2026-01-02T00:00:00+02:00')}`);
  assert.deepEqual(offset, await ids('from=2026-01-01T22:00:00Z'), '+02:00 is the same bound as the matching Z time');
  assert.deepEqual(offset, await ids(`from=${at('2026-01-01T22:00:00Z')}`));
  assert.deepEqual(offset, ['after', 'late', 'start']);
  assert.deepEqual(await ids(`to=${encodeURIComponent('2026-01-01T16:59:59.999-05:00')}`), ['before']);
  assert.deepEqual(await ids('from=2026-01-02&to=2026-01-02'), ['late'], 'a bare date is that UTC day, from its first to its last millisecond');
  assert.deepEqual(await ids('from=2026-01-01&to=2026-01-03'), ['after', 'late', 'start', 'before']);
  for (const bad of ['2026-01-02T00:00:00', '2026-13-01', '2026-01-02T00:00:00+25:00', 'yesterday']) {
    const response = await app.inject({ method: 'GET', url: `/v1/reviews?from=${encodeURIComponent(bad)}`, headers: alice });
    assert.deepEqual([response.statusCode, errorCode(response.body)], [400, 'REQUEST_INVALID'], bad);
  }
});
