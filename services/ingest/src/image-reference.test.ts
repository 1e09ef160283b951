import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// Records that name their image by `s3://` reference: whatever the key holds, a bad one is a 422
// for that record, never a 500, and never sinks the other records of its batch.

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const byReference = (id: string, uri: string) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { uri } });
const inline = (id: string) => ({ id, model: { name: 'nsfw-mobilenet-v2' }, image: { base64: photo.toString('base64') } });

const h = useIngestHarness();

const post = (payload: Record<string, unknown>) => h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload });
const codeOf = (response: { json: <T>() => T }) => response.json<{ error?: { code: string } }>().error?.code;

/** The `s3://` URI the id's job reads its image from. */
async function jobUri(id: string): Promise<string | undefined> {
  const image = (await h.queue.getJob(id))?.data.image;
  return image && 'uri' in image ? image.uri : undefined;
}

test('a key holding a line terminator: CR or LF is 422 IMAGE_URI_INVALID (the store refuses control characters); U+2028 and U+2029 are keys like any other', async () => {
  for (const [name, terminator] of [['lf', '\n'], ['cr', '\r'], ['crlf', '\r\n']] as const) {
    const response = await post(byReference(`uri-${name}`, `s3://local/uploads/a${terminator}b.jpg`));
    assert.equal(response.statusCode, 422, response.body);
    assert.equal(codeOf(response), 'IMAGE_URI_INVALID');
    assert.match(response.body, /control character/);
  }
  for (const [name, terminator] of [['ls', '\u2028'], ['ps', '\u2029']] as const) {
    const key = `uploads/a${terminator}b.jpg`;
    const missing = await post(byReference(`uri-${name}-missing`, `s3://local/${key}`));
    assert.deepEqual([missing.statusCode, codeOf(missing)], [422, 'IMAGE_NOT_FOUND'], missing.body);
    await h.store.put(key, photo, { contentType: 'image/jpeg' });
    const found = await post(byReference(`uri-${name}`, `s3://local/${key}`));
    assert.equal(found.statusCode, 202, found.body);
    assert.equal(await jobUri(`uri-${name}`), `s3://local/${key}`);
  }
  assert.deepEqual(h.internalErrors, []);
});

test('a bad key in a batch is refused for its record alone', async () => {
  const response = await h.app.inject({
    method: 'POST',
    url: '/v1/inferences:batch',
    headers: auth,
    payload: { records: [inline('uri-batch-1'), byReference('uri-batch-bad', 's3://local/uploads/a\nb.jpg'), inline('uri-batch-2')] },
  });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json<{ accepted: number; rejected: number; results: { id: string; status?: string; error?: { code: string } }[] }>();
  assert.deepEqual([body.accepted, body.rejected], [2, 1]);
  assert.deepEqual(body.results.map((r) => r.status ?? r.error?.code), ['queued', 'IMAGE_URI_INVALID', 'queued']);
  assert.ok(await h.queue.getJob('uri-batch-1'));
  assert.ok(await h.queue.getJob('uri-batch-2'));
  assert.deepEqual(h.internalErrors, []);
});

test('"." and ".." segments are 422 IMAGE_URI_INVALID, as the store refuses them (not a schema failure)', async () => {
  for (const [id, uri] of [['dots-up', 's3://local/a/../b.jpg'], ['dots-here', 's3://local/./b.jpg'], ['dots-end', 's3://local/a/..']] as const) {
    const response = await post(byReference(id, uri));
    assert.equal(response.statusCode, 422, response.body);
    assert.equal(codeOf(response), 'IMAGE_URI_INVALID');
    assert.match(response.json<{ error: { message: string } }>().error.message, /has a "\.\.?" segment/);
    assert.equal(await h.queue.getJob(id), undefined);
  }
});

test('a key of up to 1024 bytes (S3\'s limit, the bucket apart) is accepted; one byte more is 400 RECORD_INVALID saying so', async () => {
  // Five folders of 199 bytes and a name: 1024 bytes of key, 1035 characters of URI ("s3://local/").
  const folders = Array.from({ length: 5 }, (_, i) => `${i}`.repeat(199)).join('/');
  const key = `${folders}/${'é'.repeat(10)}.jpg`;
  assert.equal(Buffer.byteLength(key), 1024);
  await h.store.put(key, photo, { contentType: 'image/jpeg' });
  const accepted = await post(byReference('uri-1024', `s3://local/${key}`));
  assert.equal(accepted.statusCode, 202, accepted.body);
  assert.equal(await jobUri('uri-1024'), `s3://local/${key}`);

  for (const [id, longer] of [['uri-1025', `${folders}/${'é'.repeat(10)}x.jpg`], ['uri-long', 'k'.repeat(5000)]] as const) {
    const refused = await post(byReference(id, `s3://local/${longer}`));
    assert.deepEqual([refused.statusCode, codeOf(refused)], [400, 'RECORD_INVALID'], refused.body);
    assert.match(refused.json<{ error: { message: string } }>().error.message, /image\.uri's key may be at most 1024 bytes \(UTF-8\)/);
  }
  assert.deepEqual(h.internalErrors, []);
});
