import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { auth, useIngestHarness } from './test-support/ingest-harness.ts';

// The local store's presigned links, as a browser opens them: over a real connection to ingest's
// /v1/blobs/… route. Whatever the bytes are (a client's upload under a referenced key may be a
// page), the answer is never rendered as active content.

const manifest = readFileSync(new URL('../../review/src/fixtures/sheep-explanation.json', import.meta.url));
const page = Buffer.from('<!doctype html><script>document.title = "ran on the ingest origin"</script>');

const h = useIngestHarness();
/** Where ingest listens: started by the first test that asks (the harness's own hooks close it). */
let listening: Promise<string> | undefined;
const origin = () =>
  (listening ??= (async () => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  })());

/** The link as handed out (the harness's store points links at port 1), sent to the listening ingest. */
const reach = async (link: string) => {
  const url = new URL(link);
  return fetch(`${await origin()}${url.pathname}${url.search}`);
};

const answer = async (link: string) => {
  const response = await reach(link);
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), header: (name: string) => response.headers.get(name) };
};

/**
 * Accepts `id` referencing `uri`, then does what a worker would: its manifest, overlay and map in
 * its folder (the artifacts stored as `storedAs`, whatever they are), its job gone; GET says done.
 */
async function doneByHand(id: string, uri: string, storedAs: string): Promise<void> {
  const accepted = await h.app.inject({ method: 'POST', url: '/v1/inferences', headers: auth, payload: { id, model: { name: 'nsfw-mobilenet-v2' }, image: { uri } } });
  assert.equal(accepted.statusCode, 202, accepted.body);
  const job = await h.queue.getJob(id);
  assert.ok(job);
  await h.store.put(`${job.data.folder}explanation.json`, manifest, { contentType: 'application/json' });
  for (const name of ['gradcam-2.overlay.jpg', 'gradcam-2.npy']) await h.store.put(`${job.data.folder}${name}`, page, { contentType: storedAs });
  await job.remove();
}

test("a done status's links to local objects answer with what the pipeline knows each one is, sandboxed and nosniff, whatever the stored key's extension says", async () => {
  // A referenced object that is a page: its key says .html; the worker explained a JPEG there.
  await h.store.put('uploads/page.html', page, { contentType: 'text/html' });
  const uri = 's3://local/uploads/page.html';
  await doneByHand('blob-route-1', uri, 'text/html');
  const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/blob-route-1', headers: auth });
  const { urls } = status.json<{ urls: Record<string, string> }>();
  const expected: Record<string, [string, string]> = {
    [uri]: ['image/jpeg', 'inline'],
    'explanation.json': ['application/json', 'inline'],
    'prediction.json': ['application/json', 'inline'],
    'gradcam-2.overlay.jpg': ['image/jpeg', 'inline'],
    'gradcam-2.npy': ['application/octet-stream', 'attachment'],
  };
  assert.deepEqual(Object.keys(urls).sort(), Object.keys(expected).sort(), status.body);
  for (const [name, [contentType, disposition]] of Object.entries(expected)) {
    const link = urls[name] ?? assert.fail(name);
    const got = await answer(link);
    assert.equal(got.status, 200, name);
    assert.deepEqual([got.header('content-type'), got.header('content-disposition')], [contentType, disposition], name);
    assert.equal(got.header('x-content-type-options'), 'nosniff', name);
    assert.equal(got.header('content-security-policy'), 'sandbox', name);
    // The forced headers are signed: asked for the page back, the link is refused.
    const changed = new URL(link);
    changed.searchParams.set('response-content-type', 'text/html');
    assert.equal((await answer(changed.href)).status, 403, `${name}: the type changed`);
    changed.searchParams.delete('response-content-type');
    assert.equal((await answer(changed.href)).status, 403, `${name}: the type left out`);
  }
});

test('a plain link to a local object of a type that could be active content answers it as plain bytes, sandboxed and nosniff', async () => {
  for (const [key, contentType] of [
    ['uploads/plain/page.html', 'application/octet-stream'],
    ['uploads/plain/page.txt', 'application/octet-stream'],
    ['uploads/plain/page', 'application/octet-stream'],
    ['uploads/plain/photo.jpg', 'image/jpeg'],
    ['uploads/plain/explanation.json', 'application/json'],
  ] as const) {
    await h.store.put(key, page, { contentType: 'text/html' });
    const got = await answer(await h.store.presignGet(key, 60));
    assert.equal(got.status, 200, key);
    assert.deepEqual(got.body, page, key);
    assert.equal(got.header('content-type'), contentType, key);
    assert.equal(got.header('x-content-type-options'), 'nosniff', key);
    assert.equal(got.header('content-security-policy'), 'sandbox', key);
  }
});

test("a done status says when its links stop working (urlsExpireAt), never later than any link's own expiry", async () => {
  await h.store.put('uploads/expiry.jpg', page, { contentType: 'image/jpeg' });
  await doneByHand('blob-route-expiry', 's3://local/uploads/expiry.jpg', 'application/octet-stream');
  const before = Date.now();
  const status = await h.app.inject({ method: 'GET', url: '/v1/inferences/blob-route-expiry', headers: auth });
  const { urls, urlsExpireAt } = status.json<{ urls: Record<string, string>; urlsExpireAt: string }>();
  const expireAt = Date.parse(urlsExpireAt);
  assert.ok(Number.isFinite(expireAt), status.body);
  // The harness signs for 60 s.
  assert.ok(expireAt > before + 58_000 && expireAt <= Date.now() + 60_000, `${urlsExpireAt} is about a minute from now`);
  for (const link of Object.values(urls)) assert.ok(Number(new URL(link).searchParams.get('expires')) * 1000 >= expireAt, `${link} lasts at least until ${urlsExpireAt}`);
});
