// The behaviour every BlobStore must have, as one suite each implementation's test file runs
// against a real backend. Not exported from the package: it imports node:test.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { type BlobStore, listAll } from './blob-store.ts';
import { contentTypeFor } from './content-types.ts';
import { isStorageError, type StorageErrorCode } from './storage-error.ts';

export interface ContractSubject {
  readonly store: BlobStore;
  /** Removes what the test left behind (its bucket or directory, servers it started). */
  dispose(): Promise<void>;
}

/** Opens a store of its own (own bucket or directory) for one test. */
export type OpenStore = () => Promise<ContractSubject>;

/** What a backend is known to do differently, where the contract allows it. */
export interface BackendQuirks {
  /**
   * The server lists 'abc/…' before 'abc-1/…' and 'abc.json' (s3rver), not in UTF-8 byte order:
   * across a page boundary such siblings would be skipped, so the store must refuse that listing.
   */
  readonly listsFoldersBeforeSiblings?: boolean;
  /**
   * The server takes any SigV4 signature (s3rver 3.7.1 does not compute them): a presigned URL
   * whose forced headers were changed is answered, not refused, so that part cannot be tested here.
   */
  readonly acceptsAnySignature?: boolean;
}

const mib = 1024 * 1024;

function code(expected: StorageErrorCode, transient = false) {
  return (error: unknown): boolean => {
    assert.ok(isStorageError(error), `expected a StorageError, got ${String(error)}`);
    assert.equal(error.code, expected, error.message);
    assert.equal(error.transient, transient);
    return true;
  };
}

/** Every method that takes a key refuses this one as STORAGE_INVALID_KEY. */
async function refusedByEveryMethod(store: BlobStore, key: string): Promise<void> {
  const label = JSON.stringify(key.slice(0, 40));
  await assert.rejects(store.put(key, Buffer.from('x'), { contentType: 'text/plain' }), code('STORAGE_INVALID_KEY'), label);
  await assert.rejects(store.get(key), code('STORAGE_INVALID_KEY'), label);
  await assert.rejects(store.head(key), code('STORAGE_INVALID_KEY'), label);
  await assert.rejects(store.exists(key), code('STORAGE_INVALID_KEY'), label);
  await assert.rejects(store.delete(key), code('STORAGE_INVALID_KEY'), label);
  await assert.rejects(store.presignGet(key, 60), code('STORAGE_INVALID_KEY'), label);
}

/** Deterministic, incompressible-looking bytes, produced in chunks. */
function* pattern(totalBytes: number, chunkBytes = 64 * 1024): Generator<Buffer> {
  let offset = 0;
  while (offset < totalBytes) {
    const size = Math.min(chunkBytes, totalBytes - offset);
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) chunk[i] = ((offset + i) * 2654435761) >>> 24;
    offset += size;
    yield chunk;
  }
}

function sha256(bytes: Uint8Array | Iterable<Buffer>): string {
  const hash = createHash('sha256');
  if (bytes instanceof Uint8Array) hash.update(bytes);
  else for (const chunk of bytes) hash.update(chunk);
  return hash.digest('hex');
}

async function inPool<T>(items: readonly T[], inFlight: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

export const invalidKeys: readonly string[] = [
  '',
  '/etc/passwd',
  '../outside.json',
  'a/../../outside.json',
  'a/..',
  '.',
  'a/./b.json',
  'a\\b.json',
  '..\\outside.json',
  'a\0b.json',
  'a//b.json',
  'a/',
  'x'.repeat(1025),
];

/**
 * Keys one of the stores could not hold as written: S3's SDK cannot encode a lone surrogate, the
 * filesystem folds every lone surrogate into U+FFFD (one file for several keys), S3 listings give
 * '\r' back as '\n', and a name over 229 bytes (255 less the temporary file's 26) or shaped like
 * a temporary file cannot be an object on disk. Both stores refuse them all alike.
 */
export const unportableKeys: readonly string[] = [
  'sur/a\uD800',
  'sur/a\uDBFF.json',
  'sur/\uDC00/b.json',
  'c/a\rb.json',
  'c/a\nb.json',
  'c/a\tb.json',
  'c/a\u0001b.json',
  'c/a\u007fb.json',
  'c/a\u0085b.json',
  `l/${'y'.repeat(201)}`,
  `l/${'y'.repeat(201)}/b.json`,
  `l/${'\u00e9'.repeat(101)}.json`,
  'p/.x.0123456789abcdef.partial',
  'p/.x.0123456789abcdef.partial/obj.json',
];

export function blobStoreContract(name: string, open: OpenStore, quirks: BackendQuirks = {}): void {
  /** Runs `body` with a fresh store, disposing of it however the test ends. */
  const withStore = (body: (store: BlobStore) => Promise<void>) => async () => {
    const subject = await open();
    try {
      await body(subject.store);
    } finally {
      await subject.store.close();
      await subject.dispose();
    }
  };
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

  describe(`BlobStore contract: ${name}`, () => {
    test('put, get, head and exists round-trip bytes and content type', withStore(async (store) => {
      const key = 'm/v1/dt=2026-01-02/inf-1/prediction.json';
      const body = json({ label: 'Neutral', score: 0.93 });
      assert.equal(await store.exists(key), false);
      assert.equal(await store.head(key), undefined);
      await store.put(key, body, { contentType: 'application/json', contentLength: body.length });
      assert.deepEqual(await store.get(key), body);
      const { etag, ...head } = (await store.head(key)) ?? {};
      assert.deepEqual(head, { bytes: body.length, contentType: 'application/json' });
      assert.equal(typeof etag, 'string', 'the store names the version it holds');
      assert.equal(await store.exists(key), true);

      const replacement = json({ label: 'Drawing' });
      await store.put(key, replacement, { contentType: 'application/json' });
      assert.deepEqual(await store.get(key), replacement, 'a second put replaces the object');

      await store.put('empty.json', new Uint8Array(0), { contentType: 'application/json' });
      assert.equal((await store.get('empty.json')).length, 0);
      assert.equal((await store.head('empty.json'))?.bytes, 0);
    }));

    test('a get with ifMatch reads the version head saw, and refuses one put since (same size, other bytes) as STORAGE_CHANGED', withStore(async (store) => {
      const key = 'refs/cat.jpg';
      await store.put(key, Buffer.from('first version'), { contentType: 'image/jpeg' });
      const seen = await store.head(key);
      assert.ok(seen?.etag !== undefined);
      assert.deepEqual(await store.get(key, { ifMatch: seen.etag }), Buffer.from('first version'));
      await store.put(key, Buffer.from('other version'), { contentType: 'image/jpeg' });
      const now = await store.head(key);
      assert.equal(now?.bytes, seen.bytes);
      assert.notEqual(now?.etag, seen.etag, 'a put makes another version');
      await assert.rejects(store.get(key, { ifMatch: seen.etag }), code('STORAGE_CHANGED'));
      assert.deepEqual(await store.get(key, { ifMatch: now?.etag }), Buffer.from('other version'));
    }));

    test('content types of the pipeline files come back as stored', withStore(async (store) => {
      const keys = ['f/prediction.json', 'f/input.jpg', 'f/input.png', 'f/input.webp', 'f/gradcam-2.npy', 'f/gradcam-2.overlay.jpg', 'f/blob.bin'];
      for (const key of keys) await store.put(key, Buffer.from(key), { contentType: contentTypeFor(key) });
      for (const key of keys) assert.equal((await store.head(key))?.contentType, contentTypeFor(key), key);
      assert.equal(contentTypeFor('f/input.jpg'), 'image/jpeg');
      assert.equal(contentTypeFor('f/gradcam-2.npy'), 'application/x-npy');
      assert.equal(contentTypeFor('f/blob.bin'), 'application/octet-stream');
    }));

    test('missing objects are STORAGE_NOT_FOUND, never transient', withStore(async (store) => {
      await assert.rejects(store.get('nothing/here.json'), code('STORAGE_NOT_FOUND'));
      await store.put('folder/a.json', json(1), { contentType: 'application/json' });
      // A "folder" of other objects is not an object.
      await assert.rejects(store.get('folder'), code('STORAGE_NOT_FOUND'));
      assert.equal(await store.head('folder'), undefined);
      assert.equal(await store.exists('folder'), false);
    }));

    test('list returns every key under a prefix', withStore(async (store) => {
      const keys = ['p/a.json', 'p/a/b.json', 'p/a/c/d.npy', 'p/ab.json', 'p/b/input.jpg', 'q/other.json', 'pz.json'];
      for (const key of keys) await store.put(key, Buffer.from(key), { contentType: contentTypeFor(key) });
      // Sorted before comparing: s3rver lists folder 'p/a/' before 'p/a.json', unlike S3 ('.' < '/').
      const sorted = async (prefix: string) => (await listAll(store, prefix)).sort();
      assert.deepEqual(await sorted('p/'), ['p/a.json', 'p/a/b.json', 'p/a/c/d.npy', 'p/ab.json', 'p/b/input.jpg']);
      assert.deepEqual(await sorted('p/a'), ['p/a.json', 'p/a/b.json', 'p/a/c/d.npy', 'p/ab.json'], 'a partial name filters');
      assert.deepEqual(await sorted('p/a/'), ['p/a/b.json', 'p/a/c/d.npy']);
      assert.deepEqual(await sorted(''), [...keys].sort());
      assert.deepEqual(await listAll(store, 'p/missing/'), []);
      assert.deepEqual(await listAll(store, 'nowhere/'), []);
    }));

    test('list pages through more than 1000 keys, in order', withStore(async (store) => {
      // S3 pages hold at most 1000 keys: 1001 makes a second page.
      const keys = Array.from({ length: 1001 }, (_, i) => `many/${String(i).padStart(5, '0')}.json`);
      await store.put('many-not/x.json', json(0), { contentType: 'application/json' });
      await inPool(keys, 32, (key) => store.put(key, json(key), { contentType: 'application/json' }));
      assert.deepEqual(await listAll(store, 'many/'), keys);
    }));

    test('list pages past sibling names that sort before a folder, or refuses clearly', withStore(async (store) => {
      // 1000 keys fill the first page; the siblings sort before 'abc/' in bytes ('-' and '.' are
      // below '/'), yet a server that walks folders lists them after it, past the page boundary.
      const keys = Array.from({ length: 1000 }, (_, i) => `sib/dt=2026-01-02/abc/${String(i).padStart(4, '0')}.json`);
      keys.push('sib/dt=2026-01-02/abc-1/prediction.json', 'sib/dt=2026-01-02/abc.json');
      await inPool(keys, 32, (key) => store.put(key, json(key), { contentType: 'application/json' }));
      if (quirks.listsFoldersBeforeSiblings === true) {
        await assert.rejects(listAll(store, 'sib/'), (error: unknown) => {
          code('STORAGE_UNAVAILABLE')(error);
          assert.match((error as Error).message, /listed keys out of order/);
          return true;
        }, 'a short listing must not pass for a whole one');
      } else {
        assert.deepEqual(await listAll(store, 'sib/'), [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }
    }));

    test('list gives keys in UTF-8 byte order, not UTF-16 order', withStore(async (store) => {
      // UTF-16 order would put U+1F600 (a surrogate pair, 0xD83D…) before U+FFFD.
      const keys = ['u/z.json', 'u/\u00e9.json', 'u/\uFFFD.json', 'u/\u{1F600}.json'];
      for (const key of [...keys].reverse()) await store.put(key, json(key), { contentType: 'application/json' });
      assert.deepEqual(await listAll(store, 'u/'), keys);
    }));

    test('delete removes an object; deleting a missing one is fine', withStore(async (store) => {
      await store.put('d/x.json', json(1), { contentType: 'application/json' });
      await store.put('d/y.json', json(2), { contentType: 'application/json' });
      await store.delete('d/x.json');
      assert.equal(await store.exists('d/x.json'), false);
      await assert.rejects(store.get('d/x.json'), code('STORAGE_NOT_FOUND'));
      assert.deepEqual(await listAll(store, 'd/'), ['d/y.json']);
      await store.delete('d/x.json');
      await store.delete('never/was.json');
      await store.delete('d');
      assert.equal(await store.exists('d/y.json'), true, 'deleting a folder name deletes nothing');
    }));

    test('once the last object under a folder is deleted, the folder\'s name can be a key', withStore(async (store) => {
      await store.put('free/a/b/c.json', json(1), { contentType: 'application/json' });
      await store.put('free/keep.json', json(2), { contentType: 'application/json' });
      await store.delete('free/a/b/c.json');
      assert.deepEqual(await listAll(store, 'free/'), ['free/keep.json']);
      await store.put('free/a/b', json(3), { contentType: 'application/json' });
      assert.deepEqual(await store.get('free/a/b'), json(3));
      await store.delete('free/a/b');
      await store.put('free/a', Readable.from([json(4)]), { contentType: 'application/json' });
      assert.deepEqual(await store.get('free/a'), json(4));
      assert.deepEqual(await listAll(store, 'free/'), ['free/a', 'free/keep.json']);
    }));

    test('a 10 MiB stream is stored byte for byte', withStore(async (store) => {
      const size = 10 * mib;
      const key = 'big/stream.npy';
      await store.put(key, Readable.from(pattern(size)), { contentType: contentTypeFor(key), contentLength: size });
      assert.deepEqual({ ...(await store.head(key)), etag: undefined }, { bytes: size, contentType: 'application/x-npy', etag: undefined });
      const back = await store.get(key);
      assert.equal(back.length, size);
      assert.equal(sha256(back), sha256(pattern(size)));

      // Without a length, and not a multiple of any chunk or part size.
      const odd = 300_001;
      await store.put('big/odd.bin', Readable.from(pattern(odd, 4096)), { contentType: 'application/octet-stream' });
      assert.equal(sha256(await store.get('big/odd.bin')), sha256(pattern(odd)));
    }));

    test('a Uint8Array above the multipart threshold is stored byte for byte', withStore(async (store) => {
      const body = Buffer.concat([...pattern(9 * mib)]);
      await store.put('big/array.npy', body, { contentType: 'application/x-npy' });
      assert.equal(sha256(await store.get('big/array.npy')), sha256(body));
    }));

    test('a stream that ends short of contentLength stores nothing', withStore(async (store) => {
      const key = 'short/input.jpg';
      await store.put(key, Buffer.from('previous'), { contentType: 'image/jpeg' });
      await assert.rejects(
        store.put(key, Readable.from(pattern(1000)), { contentType: 'image/jpeg', contentLength: 2000 }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      await assert.rejects(
        store.put(key, Readable.from(pattern(3000)), { contentType: 'image/jpeg', contentLength: 2000 }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      await assert.rejects(store.put(key, Buffer.alloc(10), { contentType: 'image/jpeg', contentLength: 11 }), code('STORAGE_LENGTH_MISMATCH'));
      assert.deepEqual(await store.get(key), Buffer.from('previous'), 'the previous object is intact');
      await assert.rejects(
        store.put('short/new.jpg', Readable.from(pattern(10)), { contentType: 'image/jpeg', contentLength: 20 }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      assert.equal(await store.exists('short/new.jpg'), false);
      assert.deepEqual(await listAll(store, 'short/'), [key], 'no temporary object is visible');
    }));

    test('a stream past the multipart threshold that ends short or fails keeps its own error', withStore(async (store) => {
      // Past 8 MiB the S3 store has a multipart upload going when the body fails; whether or not
      // the server lets it be aborted, the caller must see why the put failed.
      await assert.rejects(
        store.put('mp/short.npy', Readable.from(pattern(9 * mib)), { contentType: 'application/x-npy', contentLength: 10 * mib }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      const broken = Object.assign(new Error('client went away'), { code: 'ECONNRESET' });
      async function* body(): AsyncGenerator<Buffer> {
        yield* pattern(9 * mib);
        throw broken;
      }
      await assert.rejects(store.put('mp/broken.npy', Readable.from(body()), { contentType: 'application/x-npy' }), (error) => error === broken);
      assert.deepEqual(await listAll(store, 'mp/'), [], 'nothing stored');
    }));

    test("the caller's stream failing fails the put with that error and stores nothing", withStore(async (store) => {
      // With an errno code, as a client's aborted request gives: it is still the caller's error.
      const broken = Object.assign(new Error('client went away'), { code: 'ECONNRESET' });
      async function* body(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(1000, 1);
        throw broken;
      }
      await assert.rejects(store.put('broken/input.png', Readable.from(body()), { contentType: 'image/png' }), (error) => error === broken);
      assert.equal(await store.exists('broken/input.png'), false);
      assert.deepEqual(await listAll(store, 'broken/'), []);
    }));

    test("a failed put leaves no folder behind: its folder's name can be a key", withStore(async (store) => {
      // A client that disconnects mid-upload (shorter than contentLength), and a caller's stream
      // that fails, each into folders the put had to make.
      await assert.rejects(
        store.put('gone/a/b/c/input.jpg', Readable.from(pattern(10)), { contentType: 'image/jpeg', contentLength: 20 }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      const broken = new Error('client went away');
      async function* body(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(10, 1);
        throw broken;
      }
      await assert.rejects(store.put('gone/x/y/input.png', Readable.from(body()), { contentType: 'image/png' }), (error) => error === broken);
      // Into a folder that holds another object: that one stays.
      await store.put('gone/keep/kept.json', json(0), { contentType: 'application/json' });
      await assert.rejects(
        store.put('gone/keep/new/input.jpg', Readable.from(pattern(10)), { contentType: 'image/jpeg', contentLength: 20 }),
        code('STORAGE_LENGTH_MISMATCH'),
      );
      assert.deepEqual(await listAll(store, 'gone/'), ['gone/keep/kept.json']);
      await store.put('gone/a/b', json(1), { contentType: 'application/json' });
      await store.put('gone/x', Readable.from([json(2)]), { contentType: 'application/json' });
      await store.put('gone/keep/new', json(3), { contentType: 'application/json' });
      assert.deepEqual(await store.get('gone/a/b'), json(1));
      assert.deepEqual(await store.get('gone/x'), json(2));
      assert.deepEqual(await listAll(store, 'gone/'), ['gone/a/b', 'gone/keep/kept.json', 'gone/keep/new', 'gone/x']);
    }));

    test('get with maxBytes refuses larger objects with STORAGE_TOO_LARGE', withStore(async (store) => {
      const body = Buffer.alloc(1000, 7);
      await store.put('limit/x.bin', body, { contentType: 'application/octet-stream' });
      assert.deepEqual(await store.get('limit/x.bin', { maxBytes: 1000 }), body);
      await assert.rejects(store.get('limit/x.bin', { maxBytes: 999 }), code('STORAGE_TOO_LARGE'));
      await assert.rejects(store.get('limit/none.bin', { maxBytes: 999 }), code('STORAGE_NOT_FOUND'));
      assert.deepEqual(await store.get('limit/x.bin', { maxBytes: Number.POSITIVE_INFINITY }), body);
      await assert.rejects(store.get('limit/x.bin', { maxBytes: 0 }), code('STORAGE_TOO_LARGE'));
      // NaN compares false with every size: it must not turn the limit off.
      for (const maxBytes of [Number.NaN, -1, Number.NEGATIVE_INFINITY]) {
        await assert.rejects(store.get('limit/x.bin', { maxBytes }), RangeError, String(maxBytes));
      }
    }));

    test('a presigned URL serves the object to a plain fetch', withStore(async (store) => {
      const key = 'share/dt=2026-01-02/a b+c/gradcam-0.overlay.jpg';
      const body = Buffer.concat([...pattern(70_000)]);
      await store.put(key, body, { contentType: 'image/jpeg' });
      const url = await store.presignGet(key, 300);
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), body);
      await assert.rejects(store.presignGet(key, 0), RangeError);
      await assert.rejects(store.presignGet(key, 8 * 24 * 3600), RangeError);
    }));

    test('a presigned URL given a content type and disposition answers with them, whatever the object was stored with; changed, it is refused', withStore(async (store) => {
      // A client's upload that says it is a page, under an images key: opened from a link, a
      // browser would render it as a page of the store's origin.
      const page = Buffer.from('<!doctype html><script>document.title = "ran"</script>');
      await store.put('uploads/photo.jpg', page, { contentType: 'text/html' });
      await store.put('uploads/photo.html', page, { contentType: 'text/html' });
      for (const [key, served] of [
        ['uploads/photo.jpg', { contentType: 'image/jpeg', disposition: 'inline' }],
        ['uploads/photo.html', { contentType: 'image/png', disposition: 'inline' }],
        ['uploads/photo.html', { contentType: 'application/octet-stream', disposition: 'attachment' }],
      ] as const) {
        const url = await store.presignGet(key, 300, served);
        const response = await fetch(url);
        assert.equal(response.status, 200, `${key} ${served.contentType}`);
        assert.equal(response.headers.get('content-type'), served.contentType, key);
        assert.equal(response.headers.get('content-disposition'), served.disposition, key);
        assert.deepEqual(Buffer.from(await response.arrayBuffer()), page);
        if (quirks.acceptsAnySignature === true) continue;
        // The forced headers are signed: a holder of the link cannot ask for the page back.
        for (const [name, value] of [['response-content-type', 'text/html'], ['response-content-disposition', 'attachment; filename=x.html']] as const) {
          const changed = new URL(url);
          assert.ok(changed.searchParams.has(name), `${url} carries ${name}`);
          changed.searchParams.set(name, value);
          const refused = await fetch(changed);
          await refused.arrayBuffer();
          assert.equal(refused.status, 403, `${name} changed to ${value}`);
          changed.searchParams.delete(name);
          const dropped = await fetch(changed);
          await dropped.arrayBuffer();
          assert.equal(dropped.status, 403, `${name} left out`);
        }
      }
      // Only types that are no active content, and only inline or attachment.
      for (const contentType of ['text/html', 'image/svg+xml', 'text/html; charset=utf-8', 'application/xml']) {
        await assert.rejects(store.presignGet('uploads/photo.jpg', 300, { contentType, disposition: 'inline' }), RangeError, contentType);
      }
      await assert.rejects(store.presignGet('uploads/photo.jpg', 300, { contentType: 'image/jpeg', disposition: 'inline; filename=x.html' as 'inline' }), RangeError);
    }));

    test('keys that could escape the store are STORAGE_INVALID_KEY on every method', withStore(async (store) => {
      for (const key of invalidKeys) await refusedByEveryMethod(store, key);
      for (const prefix of ['/', '../', 'a/../', 'a//', '..', 'a\\', 'a\0']) {
        await assert.rejects(listAll(store, prefix), code('STORAGE_INVALID_KEY'), JSON.stringify(prefix));
      }
      const stream = Readable.from(pattern(10));
      await assert.rejects(store.put('../x', stream, { contentType: 'text/plain' }), code('STORAGE_INVALID_KEY'));
      assert.equal(stream.destroyed, true, 'a refused stream is not left hanging');
    }));

    test('keys only one store could hold are STORAGE_INVALID_KEY on every method of both', withStore(async (store) => {
      for (const key of unportableKeys) await refusedByEveryMethod(store, key);
      for (const prefix of ['sur/a\uD800', 'c/a\rb', 'p/.x.0123456789abcdef.partial/', `l/${'y'.repeat(201)}/`]) {
        await assert.rejects(listAll(store, prefix), code('STORAGE_INVALID_KEY'), JSON.stringify(prefix.slice(0, 40)));
      }
      // Just inside the limits: a 200-byte name, paired surrogates, a dotted name that is no temporary file.
      const fine = [`l/${'y'.repeat(200)}`, `l/${'\u00e9'.repeat(100)}/b.json`, 'sur/\u{1F600}.json', 'p/.x.0123456789abcdef.partial.json'];
      for (const key of fine) await store.put(key, Buffer.from(key), { contentType: 'text/plain' });
      for (const key of fine) assert.deepEqual(await store.get(key), Buffer.from(key), JSON.stringify(key.slice(0, 40)));
      assert.deepEqual((await listAll(store, '')).sort(), [...fine].sort());
    }));

    test('close is safe twice and later calls fail with STORAGE_UNAVAILABLE', withStore(async (store) => {
      await store.put('c/x.json', json(1), { contentType: 'application/json' });
      await store.close();
      await store.close();
      await assert.rejects(store.get('c/x.json'), code('STORAGE_UNAVAILABLE'));
      await assert.rejects(listAll(store, 'c/'), code('STORAGE_UNAVAILABLE'));
    }));
  });
}
