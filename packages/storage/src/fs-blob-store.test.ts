import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { blobStoreContract } from './blob-store-contract.ts';
import { decodeKeyPath, verifyBlobLink, verifyBlobSignature } from './blob-signature.ts';
import { listAll } from './blob-store.ts';
import { FsBlobStore } from './fs-blob-store.ts';
import { maxMessageBodyBytes } from './fs-io-threads.ts';
import { blobAnswerHeaders, type PresignOptions } from './served-content-type.ts';
import { isStorageError } from './storage-error.ts';

const secret = 'test-signing-secret-0123456789';

/**
 * The `/v1/blobs/<key>` route as the HTTP services mount it: check the signature, then stream
 * the file. Kept here so the contract's presigned-URL test fetches over real HTTP.
 */
function serveBlobs(read: (key: string, served: PresignOptions | undefined) => ReturnType<FsBlobStore['readForServing']>): Server {
  return createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = url.pathname.startsWith('/v1/blobs/') ? url.pathname.slice('/v1/blobs/'.length) : '';
      const key = decodeKeyPath(path) ?? '';
      const query: Record<string, string | string[]> = {};
      for (const [name, value] of url.searchParams) {
        const before = query[name];
        query[name] = before === undefined ? value : [before, value].flat();
      }
      const link = verifyBlobLink(key, query, secret);
      if (link === undefined) {
        response.writeHead(403).end();
        return;
      }
      try {
        const blob = await read(key, link.served);
        response.writeHead(200, blobAnswerHeaders(blob));
        await pipeline(blob.body, response);
      } catch (error) {
        if (response.headersSent) response.destroy();
        else response.writeHead(isStorageError(error, 'STORAGE_NOT_FOUND') ? 404 : 500).end();
      }
    })();
  });
}

async function openFsStore(): Promise<{ store: FsBlobStore; rootDir: string; dispose(): Promise<void> }> {
  const rootDir = await mkdtemp(join(tmpdir(), 'gradcam-fs-store-'));
  // The URL base needs the port, and the route needs the store: listen first, then build it.
  let store: FsBlobStore | undefined;
  const server = serveBlobs((key, served) => (store as FsBlobStore).readForServing(key, served));
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  store = new FsBlobStore({ rootDir, publicBaseUrl: `http://127.0.0.1:${port}/`, signingSecret: secret });
  return {
    store,
    rootDir,
    async dispose() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(rootDir, { recursive: true, force: true });
    },
  };
}

blobStoreContract('filesystem', openFsStore);

test('signatures: accepted as made, refused when tampered, for another key or secret, or expired', async () => {
  const subject = await openFsStore();
  try {
    const url = new URL(await subject.store.presignGet('a/b.json', 60));
    assert.equal(url.pathname, '/v1/blobs/a/b.json');
    const expires = url.searchParams.get('expires') ?? '';
    const signature = url.searchParams.get('signature') ?? '';
    assert.match(signature, /^[0-9a-f]{64}$/);
    assert.equal(verifyBlobSignature('a/b.json', expires, signature, secret), true);
    assert.equal(verifyBlobSignature('a/b.json', Number(expires), signature, secret), true);
    assert.equal(verifyBlobSignature('a/c.json', expires, signature, secret), false, 'another key');
    assert.equal(verifyBlobSignature('a/b.json', String(Number(expires) + 1), signature, secret), false, 'another expiry');
    assert.equal(verifyBlobSignature('a/b.json', expires, signature, `${secret}x`), false, 'another secret');
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('0') ? '1' : '0'}`;
    assert.equal(verifyBlobSignature('a/b.json', expires, flipped, secret), false, 'one character changed');
    assert.equal(verifyBlobSignature('a/b.json', expires, signature.slice(0, 10), secret), false, 'truncated');
    assert.equal(verifyBlobSignature('a/b.json', expires, '', secret), false, 'empty');
    assert.equal(verifyBlobSignature('a/b.json', 'soon', signature, secret), false, 'malformed expiry');
    assert.equal(verifyBlobSignature('../b.json', expires, signature, secret), false, 'invalid key');
    const later = new Date((Number(expires) + 1) * 1000);
    assert.equal(verifyBlobSignature('a/b.json', expires, signature, secret, later), false, 'expired');
    assert.equal(verifyBlobSignature('a/b.json', expires, signature, secret, new Date(Number(expires) * 1000)), true, 'valid to its last second');

    await subject.store.put('a/b.json', Buffer.from('{}'), { contentType: 'application/json' });
    const good = await fetch(url);
    assert.equal(good.status, 200);
    assert.equal(await good.text(), '{}');
    url.searchParams.set('signature', flipped);
    assert.equal((await fetch(url)).status, 403);

    // A link that forces its answer's headers: they are signed, and a link without them is another link.
    const forced = new URL(await subject.store.presignGet('a/b.json', 60, { contentType: 'application/json', disposition: 'attachment' }));
    const query = Object.fromEntries(forced.searchParams);
    assert.deepEqual(verifyBlobLink('a/b.json', query, secret), { served: { contentType: 'application/json', disposition: 'attachment' } });
    assert.deepEqual(verifyBlobLink('a/b.json', { expires, signature }, secret), { served: undefined }, 'a plain link');
    for (const [name, value] of [['response-content-type', 'image/png'], ['response-content-disposition', 'inline']] as const) {
      assert.equal(verifyBlobLink('a/b.json', { ...query, [name]: value }, secret), undefined, `${name} changed`);
      assert.equal(verifyBlobLink('a/b.json', { ...query, [name]: undefined }, secret), undefined, `${name} left out`);
      assert.equal(verifyBlobLink('a/b.json', { ...query, [name]: [query[name], query[name]] }, secret), undefined, `${name} twice`);
    }
    assert.equal(verifyBlobLink('a/b.json', { ...query, signature: [query.signature, query.signature] }, secret), undefined, 'signature twice');
    assert.equal(verifyBlobLink('a/b.json', undefined, secret), undefined, 'no query');
  } finally {
    await subject.dispose();
  }
});

test('puts leave no temporary file behind and temporary names are not keys', async () => {
  const subject = await openFsStore();
  const { store, rootDir } = subject;
  try {
    await store.put('t/x.json', Buffer.from('1'), { contentType: 'application/json' });
    await assert.rejects(store.put('t/y.json', Readable.from([Buffer.alloc(5)]), { contentType: 'application/json', contentLength: 6 }));
    assert.deepEqual(await readdir(join(rootDir, 't')), ['x.json']);
    await assert.rejects(
      store.put('t/.x.json.0123456789abcdef.partial', Buffer.from('1'), { contentType: 'text/plain' }),
      (error: unknown) => isStorageError(error, 'STORAGE_INVALID_KEY'),
    );
    await store.put('t/.hidden.json', Buffer.from('2'), { contentType: 'application/json' });
    assert.deepEqual((await readdir(join(rootDir, 't'))).sort(), ['.hidden.json', 'x.json']);
  } finally {
    await subject.dispose();
  }
});

test('a key through an existing object, or onto a folder, is STORAGE_INVALID_KEY', async () => {
  const subject = await openFsStore();
  try {
    await subject.store.put('l/a', Buffer.from('1'), { contentType: 'text/plain' });
    await assert.rejects(subject.store.put('l/a/b', Buffer.from('2'), { contentType: 'text/plain' }), (error: unknown) =>
      isStorageError(error, 'STORAGE_INVALID_KEY'),
    );
    await subject.store.put('l/c/d', Buffer.from('3'), { contentType: 'text/plain' });
    await assert.rejects(subject.store.put('l/c', Buffer.from('4'), { contentType: 'text/plain' }), (error: unknown) =>
      isStorageError(error, 'STORAGE_INVALID_KEY'),
    );
  } finally {
    await subject.dispose();
  }
});

test('a blob answer is never active content: only images, JSON, .npy and plain bytes are answered as such, each with nosniff and Content-Security-Policy: sandbox', async () => {
  const subject = await openFsStore();
  const page = Buffer.from('<!doctype html><script>document.title = "ran"</script>');
  try {
    const cases = [
      ['u/page.html', 'application/octet-stream'],
      ['u/page.txt', 'application/octet-stream'],
      ['u/page.csv', 'application/octet-stream'],
      ['u/page.jsonl', 'application/octet-stream'],
      ['u/page.svg', 'application/octet-stream'],
      ['u/page', 'application/octet-stream'],
      ['u/photo.jpg', 'image/jpeg'],
      ['u/photo.png', 'image/png'],
      ['u/explanation.json', 'application/json'],
      ['u/gradcam-0.npy', 'application/x-npy'],
    ] as const;
    for (const [key, contentType] of cases) {
      await subject.store.put(key, page, { contentType: 'text/html' });
      const blob = await subject.store.readForServing(key);
      blob.body.destroy();
      assert.equal(blob.contentType, contentType, key);
      // Over HTTP, through the route as the services mount it.
      const response = await fetch(await subject.store.presignGet(key, 60));
      assert.equal(response.status, 200, key);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), page, key);
      assert.equal(response.headers.get('content-type'), contentType, key);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', key);
      assert.equal(response.headers.get('content-security-policy'), 'sandbox', key);
      assert.equal(response.headers.get('content-disposition'), null, `${key}: no disposition unless the link forces one`);
    }
    // A type a link forces is allow-listed too.
    const forced = await subject.store.readForServing('u/page.html', { contentType: 'text/html', disposition: 'inline' });
    forced.body.destroy();
    assert.deepEqual([forced.contentType, forced.disposition], ['application/octet-stream', 'inline']);
  } finally {
    await subject.dispose();
  }
});

test('readForServing streams an object and is STORAGE_NOT_FOUND before any byte when missing', async () => {
  const subject = await openFsStore();
  try {
    await subject.store.put('s/input.png', Buffer.from('png bytes'), { contentType: 'image/png' });
    const blob = await subject.store.readForServing('s/input.png');
    assert.equal(blob.bytes, 9);
    assert.equal(blob.contentType, 'image/png');
    const chunks: Buffer[] = [];
    for await (const chunk of blob.body as AsyncIterable<Buffer>) chunks.push(chunk);
    assert.equal(Buffer.concat(chunks).toString(), 'png bytes');
    await assert.rejects(subject.store.readForServing('s/none.png'), (error: unknown) => isStorageError(error, 'STORAGE_NOT_FOUND'));
    await assert.rejects(subject.store.readForServing('s'), (error: unknown) => isStorageError(error, 'STORAGE_NOT_FOUND'));
  } finally {
    await subject.dispose();
  }
});


test("a failure names the object by its key, never the store's folder on the server (a job's failure reaches API clients in its status); the path stays in the cause, which logs print", async () => {
  const subject = await openFsStore();
  try {
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ['get', () => subject.store.get('m/v/none.json'), /^filesystem get m\/v\/none\.json: ENOENT: no such file or directory, open$/],
      ['readForServing', () => subject.store.readForServing('s/none.png'), /^filesystem read s\/none\.png: ENOENT: no such file or directory, open$/],
    ];
    for (const [call, run, message] of cases) {
      await assert.rejects(run(), (error: unknown) => {
        assert.ok(isStorageError(error, 'STORAGE_NOT_FOUND'), `${call}: ${String(error)}`);
        assert.ok(!error.message.includes(subject.rootDir), `${call}: ${error.message}`);
        assert.match(error.message, message, call);
        assert.ok(error.cause instanceof Error && error.cause.message.includes(subject.rootDir), `${call}: the cause keeps the path`);
        return true;
      });
    }
  } finally {
    await subject.dispose();
  }
});
test('list yields keys in S3 order: "a.json" before "a/…" (\'.\' < \'/\')', async () => {
  const subject = await openFsStore();
  try {
    const keys = ['o/a/b.json', 'o/a.json', 'o/a-1/c.json', 'o/a0.json', 'o/ab.json'];
    for (const key of keys) await subject.store.put(key, Buffer.from(key), { contentType: 'application/json' });
    assert.deepEqual(await listAll(subject.store, 'o/'), ['o/a-1/c.json', 'o/a.json', 'o/a/b.json', 'o/a0.json', 'o/ab.json']);
    assert.deepEqual(await listAll(subject.store, 'o/'), [...keys].sort());
  } finally {
    await subject.dispose();
  }
});

test('a short signing secret is refused', () => {
  assert.throws(() => new FsBlobStore({ rootDir: tmpdir(), publicBaseUrl: 'http://x', signingSecret: 'short' }), RangeError);
});

test('with fsync off, puts are still whole and atomic for readers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-nofsync-'));
  try {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret, fsync: false });
    const body = Buffer.alloc(256 * 1024, 7);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`a/${i}.bin`, body, { contentType: 'application/octet-stream' })));
    assert.equal((await listAll(store, 'a/')).length, 20);
    assert.deepEqual(await store.get('a/7.bin'), body);
    assert.deepEqual((await readdir(join(dir, 'a'))).filter((name) => name.endsWith('.partial')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writer killed mid-write leaves a hidden .partial file; sweepPartials removes it once stale, and nothing else', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-sweep-'));
  try {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
    await store.put('run/1/explanation.json', Buffer.from('{}'), { contentType: 'application/json' });
    // A real writer in its own process: it streams the first chunk of an overlay and is SIGKILLed
    // before the rest arrives, as an OOM-killed worker would be.
    const writer = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { Readable } from 'node:stream';
         import { FsBlobStore } from ${JSON.stringify(new URL('./fs-blob-store.ts', import.meta.url).href)};
         const store = new FsBlobStore({ rootDir: ${JSON.stringify(dir)}, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: ${JSON.stringify(secret)} });
         const body = new Readable({ read() {} });
         body.push(Buffer.alloc(4096, 1));
         void store.put('run/1/gradcam-0.overlay.jpg', body, { contentType: 'image/jpeg' });
         setInterval(() => {}, 60_000); // the rest of the body never comes`,
      ],
      { stdio: 'ignore' },
    );
    const exited = once(writer, 'exit');
    const folder = join(dir, 'run', '1');
    const partials = async () => (await readdir(folder)).filter((name) => name.endsWith('.partial'));
    for (let waited = 0; (await partials()).length === 0; waited += 50) {
      assert.ok(waited < 20_000, 'the writer never started its temporary file');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    writer.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL', 'the writer was still writing when it was killed');
    const [leftover] = await partials();
    assert.ok(leftover);
    assert.deepEqual(await listAll(store, 'run/'), ['run/1/explanation.json'], 'list never shows a temporary file');

    assert.deepEqual(await store.sweepPartials({ olderThanMs: 3_600_000 }), { removed: 0, removedBytes: 0, kept: 1, failed: [] }, 'a fresh one may be a live write');
    const later = Date.now() + 2 * 3_600_000;
    const dry = await store.sweepPartials({ olderThanMs: 3_600_000, now: later, dryRun: true });
    assert.equal(dry.removed, 1);
    assert.deepEqual(await partials(), [leftover], 'a dry run removes nothing');
    const swept = await store.sweepPartials({ olderThanMs: 3_600_000, now: later });
    assert.deepEqual(swept, dry);
    assert.deepEqual(await partials(), []);
    assert.deepEqual(await store.get('run/1/explanation.json'), Buffer.from('{}'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("sweepPartials removes the folders its removals leave empty: a crashed put's folder name is a key again", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-sweep-'));
  try {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
    await store.put('keep/x.json', Buffer.from('{}'), { contentType: 'application/json' });
    // What puts killed mid-write leave: their temporary files, in the folders they made.
    await mkdir(join(dir, 'a', 'b', 'c'), { recursive: true });
    await writeFile(join(dir, 'a', 'b', 'c', '.d.json.0123456789abcdef.partial'), 'half');
    await writeFile(join(dir, 'a', '.e.json.0123456789abcdef.partial'), 'half');
    await writeFile(join(dir, 'keep', '.y.json.0123456789abcdef.partial'), 'half');
    await assert.rejects(store.put('a/b', Buffer.from('1'), { contentType: 'text/plain' }), (error: unknown) => isStorageError(error, 'STORAGE_INVALID_KEY'));
    const later = { olderThanMs: 3_600_000, now: Date.now() + 2 * 3_600_000 };

    assert.equal((await store.sweepPartials({ ...later, dryRun: true })).removed, 3);
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'keep'], 'a dry run removes no folder either');
    assert.deepEqual(await store.sweepPartials(later), { removed: 3, removedBytes: 12, kept: 0, failed: [] });
    assert.deepEqual(await readdir(dir), ['keep'], 'the folders the crashed puts made are gone, the root and folders with objects stay');
    assert.deepEqual(await readdir(join(dir, 'keep')), ['x.json']);
    await store.put('a/b', Buffer.from('1'), { contentType: 'text/plain' });
    assert.deepEqual(await listAll(store, ''), ['a/b', 'keep/x.json']);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('deletes remove the folders they empty, never the root; puts racing them into those folders all land', async () => {
  const subject = await openFsStore();
  const { store, rootDir } = subject;
  try {
    await store.put('gone/a/b/c.json', Buffer.from('1'), { contentType: 'application/json' });
    await store.delete('gone/a/b/c.json');
    assert.deepEqual(await readdir(rootDir), [], 'every emptied folder is gone, the root stays');
    // Each round deletes the only object of a folder while puts go into that same folder, whole
    // (I/O threads) and streamed (fs/promises): a put whose folder the delete removed after its
    // mkdir must make it again, not fail.
    for (let round = 0; round < 150; round++) {
      const folder = `race/${round % 3}/f`;
      await store.put(`${folder}/old.json`, Buffer.from('old'), { contentType: 'application/json' });
      const settled = await Promise.allSettled([
        store.delete(`${folder}/old.json`),
        store.put(`${folder}/whole.json`, Buffer.from('whole'), { contentType: 'application/json' }),
        store.put(`${folder}/stream.json`, Readable.from([Buffer.from('stream')]), { contentType: 'application/json' }),
      ]);
      assert.deepEqual(settled.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'ok')), ['ok', 'ok', 'ok'], `round ${round}`);
      assert.deepEqual(await listAll(store, `${folder}/`), [`${folder}/stream.json`, `${folder}/whole.json`], `round ${round}`);
      await store.delete(`${folder}/whole.json`);
      await store.delete(`${folder}/stream.json`);
    }
    assert.deepEqual(await readdir(rootDir), []);

    // That window is microseconds wide, so a process removing the folder whenever it is empty
    // (as deletes do, but without pause) stands in for many deletes at the worst moment.
    const folder = join(rootDir, 'hammered', 'f');
    const remover = spawn(
      process.execPath,
      ['-e', `const { rmdirSync } = require('node:fs'); for (;;) for (const f of ${JSON.stringify([folder, dirname(folder)])}) try { rmdirSync(f); } catch {}`],
      { stdio: 'ignore' },
    );
    try {
      for (let round = 0; round < 30; round++) {
        await store.put('hammered/f/whole.json', Buffer.from('whole'), { contentType: 'application/json' });
        assert.deepEqual(await store.get('hammered/f/whole.json'), Buffer.from('whole'));
        await store.delete('hammered/f/whole.json');
        await store.put('hammered/f/stream.json', Readable.from([Buffer.from('stream')]), { contentType: 'application/json' });
        assert.deepEqual(await store.get('hammered/f/stream.json'), Buffer.from('stream'));
        await store.delete('hammered/f/stream.json');
      }
    } finally {
      remover.kill('SIGKILL');
    }
  } finally {
    await subject.dispose();
  }
});

test('a body too large for one message to the I/O threads is written without them, byte for byte', async () => {
  const subject = await openFsStore();
  try {
    const body = Buffer.alloc(maxMessageBodyBytes + 1);
    for (let i = 0; i < body.length; i += 4096) body[i] = (i >>> 12) & 0xff;
    await subject.store.put('large/x.npy', body, { contentType: 'application/x-npy' });
    assert.ok((await subject.store.get('large/x.npy')).equals(body));
    await assert.rejects(subject.store.put('large/y.npy', body, { contentType: 'application/x-npy', contentLength: body.length - 1 }), (error: unknown) =>
      isStorageError(error, 'STORAGE_LENGTH_MISMATCH'),
    );
    assert.deepEqual(await listAll(subject.store, 'large/'), ['large/x.npy']);
  } finally {
    await subject.dispose();
  }
});

test('a root that is a file fails every put with STORAGE_UNAVAILABLE naming the root, not the key; a root that does not exist yet is made', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-root-'));
  try {
    const fileRoot = join(dir, 'not-a-folder');
    await writeFile(fileRoot, 'x');
    const store = new FsBlobStore({ rootDir: fileRoot, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
    for (const body of [Buffer.from('{}'), Readable.from([Buffer.from('{}')])]) {
      await assert.rejects(store.put('m/v/id/prediction.json', body, { contentType: 'application/json' }), (error: unknown) => {
        assert.ok(isStorageError(error));
        assert.equal(error.code, 'STORAGE_UNAVAILABLE');
        assert.match(error.message, new RegExp(`root ${fileRoot} is not a folder`));
        return true;
      });
    }
    await store.close();
    const fresh = new FsBlobStore({ rootDir: join(dir, 'a', 'b', 'store'), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
    await fresh.put('m/v/id/prediction.json', Buffer.from('{}'), { contentType: 'application/json' });
    assert.deepEqual(await fresh.get('m/v/id/prediction.json'), Buffer.from('{}'));
    await fresh.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the ETag names the contents: a copy of the store\'s folder (new inodes), a file whose times changed, and the same bytes put again are the version head saw; other bytes of the same size are not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-etag-'));
  const open = (folder: string) => new FsBlobStore({ rootDir: join(dir, folder), publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
  const key = 'uploads/cat.jpg';
  const original = Buffer.from('the photo the prediction was made on');
  const store = open('store');
  // What a false STORAGE_CHANGED costs: the worker fails the job IMAGE_CHANGED, for good.
  const readUnder = (on: FsBlobStore, etag: string | undefined) => on.get(key, { ifMatch: etag });
  try {
    await store.put(key, original, { contentType: 'image/jpeg' });
    const seen = (await store.head(key))?.etag;
    assert.ok(seen !== undefined);

    // A backup, restore or move to another disk (cp -a keeps the times, not the inodes); another host's mount.
    await promisify(execFile)('cp', ['-a', join(dir, 'store'), join(dir, 'copy')]);
    const copy = open('copy');
    try {
      assert.equal((await copy.head(key))?.etag, seen);
      assert.deepEqual(await readUnder(copy, seen), original);
    } finally {
      await copy.close();
    }
    // A restore that kept the times to the second only (tar), or a touch.
    await utimes(join(dir, 'store', key), 1_700_000_000, 1_700_000_000);
    assert.deepEqual(await readUnder(store, seen), original);
    // A retried upload of the same bytes: a new file renamed into place.
    await store.put(key, original, { contentType: 'image/jpeg' });
    assert.deepEqual(await readUnder(store, seen), original);

    const sameSize = Buffer.from(original);
    sameSize[0] = 0x54;
    await store.put(key, sameSize, { contentType: 'image/jpeg' });
    await assert.rejects(readUnder(store, seen), (error) => isStorageError(error, 'STORAGE_CHANGED'));
    // Over maxBytes the contents are not read: another size is another version, the one seen is too large.
    await store.put(key, Buffer.concat([original, original]), { contentType: 'image/jpeg' });
    await assert.rejects(store.get(key, { ifMatch: seen, maxBytes: 4 }), (error) => isStorageError(error, 'STORAGE_CHANGED'));
    await store.put(key, original, { contentType: 'image/jpeg' });
    await assert.rejects(store.get(key, { ifMatch: seen, maxBytes: 4 }), (error) => isStorageError(error, 'STORAGE_TOO_LARGE'));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an ETag of the form the store gave before (inode-size-mtime, in a job queued then) cannot be checked and is read, not refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-etag-'));
  const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
  try {
    await store.put('uploads/cat.jpg', Buffer.from('photo'), { contentType: 'image/jpeg' });
    assert.deepEqual(await store.get('uploads/cat.jpg', { ifMatch: '20c11d-5-18ec7802b0e57835' }), Buffer.from('photo'));
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
