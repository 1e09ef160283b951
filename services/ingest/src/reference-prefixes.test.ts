import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// GRADCAM_REFERENCE_PREFIXES: where the bucket holds more than the clients' images (other tenants'
// data, the pipeline's own folders), references are taken only under the listed key prefixes.
// Anything else would be decoded by a worker and handed back as a preview and overlays.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const byReference = (id: string, uri: string) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { uri } });

const h = useIngestHarness({ referencePrefixes: ['inputs/', 'cameras/line-'] });

test('a reference under a listed prefix is accepted; one elsewhere in the bucket is 422 IMAGE_URI_NOT_ALLOWED naming the prefixes, alone in its batch, and nothing of it is stored or queued', async () => {
  for (const key of ['inputs/a.jpg', 'cameras/line-4/b.jpg', 'private/c.jpg', 'captures/elsewhere/input.jpg', 'inputsx/d.jpg']) {
    await h.store.put(key, photo, { contentType: 'image/jpeg' });
  }
  const response = await h.app.inject({
    method: 'POST',
    url: '/v1/inferences:batch',
    headers: auth,
    payload: {
      records: [
        byReference('in-inputs', 's3://local/inputs/a.jpg'),
        byReference('in-cameras', 's3://local/cameras/line-4/b.jpg'),
        byReference('private', 's3://local/private/c.jpg'),
        // The pipeline's own folder (another inference's input) is outside the list too.
        byReference('own-folder', 's3://local/captures/elsewhere/input.jpg'),
        // A prefix is taken literally: inputs/ is a folder, and inputsx/ is not in it.
        byReference('lookalike', 's3://local/inputsx/d.jpg'),
      ],
    },
  });
  assert.equal(response.statusCode, 200, response.body);
  const results = response.json<{ results: { id: string; status?: string; error?: { code: string; message: string } }[] }>().results;
  const byId = new Map(results.map((r) => [r.id, r]));
  assert.equal(byId.get('in-inputs')?.status, 'queued');
  assert.equal(byId.get('in-cameras')?.status, 'queued');
  for (const id of ['private', 'own-folder', 'lookalike']) {
    const refused = byId.get(id);
    assert.equal(refused?.error?.code, 'IMAGE_URI_NOT_ALLOWED', id);
    assert.match(refused?.error?.message ?? '', /under s3:\/\/local\/inputs\/, s3:\/\/local\/cameras\/line-/);
    assert.equal(await h.queue.getJob(id), undefined, `${id}: no job`);
    const status = await h.app.inject({ method: 'GET', url: `/v1/inferences/${id}`, headers: auth });
    assert.equal(status.statusCode, 404, `${id}: nothing accepted`);
  }
  assert.ok(await h.queue.getJob('in-inputs'));
  assert.deepEqual(h.internalErrors, []);
});
