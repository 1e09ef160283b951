import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { redisKeys } from '@gradcam/contracts';
import { type RedisServer, startRedisServer } from '@gradcam/dev-services';
import type { BlobStore } from '@gradcam/storage';
import { type IngestHarness, auth, createIngestHarness, eraseAuth } from './test-support/ingest-harness.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const otherPhoto = readFileSync(new URL('../../../test/fixtures/images/alpine-landscape.jpg', import.meta.url));
const model = { name: 'nsfw-mobilenet-v2' };
const record = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  model,
  image: { base64: photo.toString('base64') },
  prediction: { classIndex: 2, label: 'Neutral', scores: [0.1, 0.1, 0.7, 0.05, 0.05] },
  metadata: { camera: 'c-7', frame: 12 },
  ...extra,
});

/** A multipart body: the record as a `record` field, the image as an `image` file. */
function multipart(fields: Record<string, unknown>, image: Buffer) {
  const boundary = 'gradcam-boundary';
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="record"\r\n\r\n${JSON.stringify(fields)}\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    image,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { headers: { ...auth, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload };
}

interface Answer {
  duplicate?: boolean;
  status?: string;
  error?: { code: string; message: string; details?: { acceptedAt: string; differs: string[] } };
}

let server: RedisServer;
let h: IngestHarness;
before(async () => {
  server = await startRedisServer();
  h = await createIngestHarness({ redisUrl: server.url });
});
after(async () => {
  await h.close();
  await server.stop();
});

const post = (payload: unknown) => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: payload as Record<string, unknown> });
const answer = async (response: ReturnType<typeof post>) => {
  const r = await response;
  return [r.statusCode, r.json<Answer>()] as const;
};
/** What ingest holds for an id: its job's folder, prediction.json, the jobs of the id. */
async function held(id: string) {
  const job = await h.queue.getJob(id);
  const folder = job?.data.folder as string;
  return { folder, prediction: (await h.store.get(`${folder}prediction.json`)).toString(), jobs: (await h.queue.getJobs(['waiting'])).filter((j) => j.id === id).length };
}

describe('an id sent again', () => {
  test('with the same content it is a duplicate; with another prediction 409 ID_REUSED, nothing stored or changed', async () => {
    assert.equal((await post(record('reuse-pred'))).statusCode, 202);
    const before = await held('reuse-pred');
    assert.deepEqual(await answer(post(record('reuse-pred'))), [200, { id: 'reuse-pred', status: 'queued', duplicate: true, reason: 'all' }]);
    const reused = await post(record('reuse-pred', { prediction: { classIndex: 3, scores: [0.1, 0.1, 0.1, 0.6, 0.1] } }));
    assert.equal(reused.statusCode, 409, reused.body);
    assert.equal(reused.headers['retry-after'], undefined, 'retrying the same record cannot help');
    const { error } = reused.json<Answer>();
    assert.equal(error?.code, 'ID_REUSED');
    assert.deepEqual(error?.details?.differs, ['prediction']);
    const acceptedAt = JSON.parse(before.prediction).acceptedAt as string;
    assert.equal(error?.details?.acceptedAt, acceptedAt);
    assert.ok(error?.message.includes(`"reuse-pred" was accepted at ${acceptedAt} with other content (its prediction differs)`), error?.message);
    assert.match(error?.message ?? '', /a new id/);
    assert.deepEqual(await held('reuse-pred'), before, 'prediction.json, folder and job unchanged');
  });

  test('an ID_REUSED record is counted as outcome id_reused, apart from rejected records (a producer reusing ids, not a bad record)', async () => {
    const counted = async () => {
      const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
      const value = (outcome: string) => Number(new RegExp(`^gradcam_ingest_records_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return { reused: value('id_reused'), rejected: value('rejected') };
    };
    assert.equal((await post(record('count-reuse'))).statusCode, 202);
    const before = await counted();
    assert.equal((await post(record('count-reuse', { metadata: { camera: 'c-9' } }))).statusCode, 409);
    const batch = await h.app.inject({ method: 'POST', url: '/v1/inferences:batch', headers: auth, payload: { records: [record('count-reuse', { metadata: { camera: 'c-10' } }), { id: 'count-bad' }] } });
    assert.equal(batch.statusCode, 200, batch.body);
    assert.deepEqual(await counted(), { reused: before.reused + 2, rejected: before.rejected + 1 });
  });

  test('with another image: 409 ID_REUSED naming the image; the first image stays', async () => {
    assert.equal((await post(record('reuse-image'))).statusCode, 202);
    const before = await held('reuse-image');
    const [status, body] = await answer(post(record('reuse-image', { image: { base64: otherPhoto.toString('base64') } })));
    assert.deepEqual([status, body.error?.code, body.error?.details?.differs], [409, 'ID_REUSED', ['image']]);
    assert.deepEqual(await h.store.get(`${before.folder}input.jpg`), photo);
    assert.deepEqual(await held('reuse-image'), before);
    // Several parts at once are all named.
    const [, several] = await answer(post(record('reuse-image', { image: { base64: otherPhoto.toString('base64') }, metadata: { camera: 'c-8' }, explain: { topK: 2 } })));
    assert.deepEqual(several.error?.details?.differs, ['image', 'explain', 'metadata']);
  });

  test('the same record as JSON (base64) and as multipart (the same bytes), either way round, is a duplicate', async () => {
    const { image: _, ...fields } = record('mp-json');
    assert.equal((await post(record('mp-json'))).statusCode, 202);
    const asMultipart = await h.app.inject({ method: 'POST', url: '/v1/inferences', ...multipart(fields, photo) });
    assert.deepEqual([asMultipart.statusCode, asMultipart.json<Answer>().duplicate], [200, true], asMultipart.body);
    const { image: __, ...second } = record('json-mp');
    assert.equal((await h.app.inject({ method: 'POST', url: '/v1/inferences', ...multipart(second, photo) })).statusCode, 202);
    assert.deepEqual((await answer(post(record('json-mp'))))[1].duplicate, true);
    const otherBytes = await h.app.inject({ method: 'POST', url: '/v1/inferences', ...multipart(second, otherPhoto) });
    assert.deepEqual([otherBytes.statusCode, otherBytes.json<Answer>().error?.code], [409, 'ID_REUSED']);
  });

  test('the same record with its keys in another order is a duplicate', async () => {
    assert.equal((await post(record('key-order'))).statusCode, 202);
    const reordered =
      '{"metadata":{"frame":12,"camera":"c-7"},"prediction":{"scores":[0.1,0.1,0.7,0.05,0.05],"label":"Neutral","classIndex":2},' +
      `"image":{"base64":"${photo.toString('base64')}"},"model":{"name":"nsfw-mobilenet-v2"},"id":"key-order"}`;
    const response = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: { ...auth, 'content-type': 'application/json' }, payload: reordered });
    assert.deepEqual([response.statusCode, response.json<Answer>().duplicate], [200, true], response.body);
  });

  test('in a batch: a reused id is refused on its own, the fresh records and a true retry are not affected', async () => {
    assert.equal((await post(record('batch-known'))).statusCode, 202);
    assert.equal((await post(record('batch-retry'))).statusCode, 202);
    const before = await held('batch-known');
    const response = await h.app.inject({
      method: 'POST',
      url: '/v1/inferences:batch',
      headers: auth,
      payload: {
        records: [
          record('batch-fresh-1'),
          record('batch-known', { metadata: { camera: 'c-9' } }),
          record('batch-retry'),
          record('batch-fresh-2'),
          // A copy in the batch itself with other content than the copy accepted before it.
          record('batch-fresh-2', { prediction: { classIndex: 0 } }),
          record('batch-fresh-2'),
        ],
      },
    });
    assert.equal(response.statusCode, 200, response.body);
    const body = response.json<{ accepted: number; duplicates: number; rejected: number; results: (Answer & { index: number; id: string })[] }>();
    assert.deepEqual(
      body.results.map((r) => [r.index, r.id, r.error?.code ?? r.status, r.duplicate ?? r.error?.details?.differs]),
      [
        [0, 'batch-fresh-1', 'queued', false],
        [1, 'batch-known', 'ID_REUSED', ['metadata']],
        [2, 'batch-retry', 'queued', true],
        [3, 'batch-fresh-2', 'queued', false],
        [4, 'batch-fresh-2', 'ID_REUSED', ['prediction']],
        [5, 'batch-fresh-2', 'queued', true],
      ],
    );
    assert.deepEqual([body.accepted, body.duplicates, body.rejected], [4, 2, 2]);
    assert.deepEqual(await held('batch-known'), before);
    assert.deepEqual(JSON.parse((await held('batch-fresh-2')).prediction).prediction, record('x').prediction, 'the copy accepted is the one stored');
  });

  test('an entry written before fingerprints were kept answers any record of its id as a duplicate, as before', async () => {
    assert.equal((await post(record('old-entry'))).statusCode, 202);
    const key = redisKeys(String(h.queue.opts.prefix)).inference('old-entry');
    const entry = JSON.parse((await h.redis.get(key)) as string) as Record<string, unknown>;
    assert.equal(typeof entry.fingerprint, 'string', 'a new entry keeps the fingerprint');
    delete entry.fingerprint;
    await h.redis.set(key, JSON.stringify(entry), 'KEEPTTL');
    const [status, body] = await answer(post(record('old-entry', { prediction: { classIndex: 0 } })));
    assert.deepEqual([status, body.duplicate], [200, true]);
  });

  test('status and erasure read an entry with its fingerprint; once erased the id takes new content', async () => {
    assert.equal((await post(record('erase-reused'))).statusCode, 202);
    const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/erase-reused', headers: auth });
    assert.deepEqual([status.statusCode, status.json<{ status: string }>().status], [200, 'queued'], status.body);
    assert.equal('fingerprint' in status.json<object>(), false);
    const erased = await h.app.inject({ method: 'DELETE', url: '/v1/inferences/erase-reused', headers: eraseAuth });
    assert.equal(erased.statusCode, 200, erased.body);
    assert.equal((await post(record('erase-reused', { prediction: { classIndex: 0 } }))).statusCode, 202);
  });
});

describe('an id sent with other content while the first request holds its claim', () => {
  let stalled: IngestHarness;
  let release: () => void = () => undefined;
  let reached: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const writing = new Promise<void>((resolve) => (reached = resolve));
  before(async () => {
    stalled = await createIngestHarness({
      redisUrl: server.url,
      wrapStore: (store) =>
        Object.create(store, {
          put: { value: async (...args: Parameters<BlobStore['put']>) => (args[0].includes('/claimed-first/') && (reached(), await gate), store.put(...args)) },
        }) as BlobStore,
    });
  });
  after(() => stalled.close());

  test('is 409 INFERENCE_IN_PROGRESS; its retry once the first is accepted is 409 ID_REUSED', async () => {
    const send = (payload: unknown) => stalled.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: payload as Record<string, unknown> });
    const first = send(record('claimed-first'));
    await writing;
    const meanwhile = await send(record('claimed-first', { prediction: { classIndex: 0 } }));
    assert.deepEqual([meanwhile.statusCode, meanwhile.json<Answer>().error?.code], [409, 'INFERENCE_IN_PROGRESS']);
    release();
    assert.equal((await first).statusCode, 202);
    const retry = await send(record('claimed-first', { prediction: { classIndex: 0 } }));
    assert.deepEqual([retry.statusCode, retry.json<Answer>().error?.code], [409, 'ID_REUSED']);
  });
});
