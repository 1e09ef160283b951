import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import type { ExplanationManifest } from '@gradcam/contracts';
import { type S3Server, assertLinksServedAs, startS3Server } from '@gradcam/dev-services';
import { S3BlobStore } from '@gradcam/storage';
import { alice, appTestKit } from './app-test-kit.ts';
import { reviewItem } from './review-item-fixture.ts';

// The links a reviewer is handed, opened as a browser opens them, on a real S3 API (s3rver): each
// answers as what the pipeline knows its object to be, whatever type it was stored with. A
// client's upload keeps the type the client gave it, and one that says text/html would otherwise
// render as a page of the S3 host.

const { setup } = await appTestKit('packet-links');
const manifest = await readFile(new URL('./fixtures/sheep-explanation.json', import.meta.url));
const page = Buffer.from('<!doctype html><script>document.title = "ran on the S3 host"</script>');

let s3: S3Server;
let store: S3BlobStore;
before(async () => {
  s3 = await startS3Server({ buckets: ['captures'] });
  const { endpoint, region, accessKeyId, secretAccessKey } = s3;
  store = new S3BlobStore({ endpoint, region, accessKeyId, secretAccessKey, bucket: 'captures', forcePathStyle: true });
});
after(async () => {
  await store.close();
  await s3.stop();
});

test("a review packet's links answer with the image's format as the worker decoded it, overlays as JPEG and maps as bytes to save, not the stored types", async () => {
  const { pool, app } = setup({ store });
  const waiting = reviewItem(`typed-${Date.now()}`);
  const imageKey = `uploads/${waiting.inferenceId}/photo.jpg`;
  const prediction = {
    schemaVersion: 1,
    inferenceId: waiting.inferenceId,
    acceptedAt: new Date().toISOString(),
    model: { name: 'nsfw-mobilenet-v2', version: 'nsfwjs-4.4.0', versionGiven: false },
    image: { uri: `s3://captures/${imageKey}` },
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
  await store.put(`${waiting.folder}prediction.json`, Buffer.from(JSON.stringify(prediction)), { contentType: 'application/json' });
  await store.put(`${waiting.folder}explanation.json`, manifest, { contentType: 'application/json' });
  // The evidence check compares the input's size and sha256 with the manifest's: the photo explained.
  await store.put(imageKey, await readFile(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url)), { contentType: 'text/html' });
  for (const artifact of (JSON.parse(manifest.toString('utf8')) as ExplanationManifest).explanations.flatMap((e) => [e.overlay, e.rawMap])) {
    await store.put(`${waiting.folder}${artifact.path}`, Buffer.concat([page, Buffer.alloc(artifact.bytes - page.length)]), { contentType: 'text/html' });
  }
  await pool.add(waiting);
  const shown = await app.inject({ method: 'GET', url: '/v1/reviews/next', headers: alice });
  assert.equal(shown.statusCode, 200, shown.body);
  const { urls } = JSON.parse(shown.body) as { urls: Record<string, string> };
  await assertLinksServedAs(urls, {
    image: ['image/jpeg', 'inline'],
    'gradcam-2.overlay.jpg': ['image/jpeg', 'inline'],
    'gradcam-2.npy': ['application/octet-stream', 'attachment'],
  });
});
