import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsCallError, type FsRequest, FsIoThreads, maxMessageBodyBytes } from './fs-io-threads.ts';
import { isStorageError } from './storage-error.ts';
import { blockingFifo } from './test-fifo.ts';

async function withFolder(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-io-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const writeRequest = (dir: string, name: string, body: Uint8Array): FsRequest => ({
  op: 'write',
  path: join(dir, name, 'object.bin'),
  root: dir,
  body,
  fsync: true,
});

test('requests made in one turn all complete, each with its own result', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(2);
    // Views into one shared buffer, as Node's pooled small Buffers are: each writes its own bytes.
    const shared = Buffer.alloc(300 * 4);
    const bodies = Array.from({ length: 300 }, (_, i) => {
      shared.writeUInt32LE(i, i * 4);
      return shared.subarray(i * 4, i * 4 + 4);
    });
    await Promise.all(bodies.map((body, i) => io.run(writeRequest(dir, `k${i}`, body))));
    const reads = await Promise.all(bodies.map((_, i) => io.run({ op: 'read', path: join(dir, `k${i}`, 'object.bin') })));
    reads.forEach((found, i) => {
      assert.equal(found.isFile, true);
      assert.deepEqual(Buffer.from(found.data ?? []), bodies[i], `object ${i}`);
    });
    assert.deepEqual(await readdir(join(dir, 'k7')), ['object.bin'], 'no temporary file left behind');
    assert.deepEqual(await io.run({ op: 'stat', path: join(dir, 'k7', 'object.bin') }), { ok: true, isFile: true, size: 4 });
    await io.close();
  });
});

test('a failed call comes back as FsCallError with the errno code and the step that failed', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(1);
    await assert.rejects(io.run({ op: 'stat', path: join(dir, 'missing') }), (error: unknown) => {
      assert.ok(error instanceof FsCallError);
      assert.equal(error.code, 'ENOENT');
      assert.equal(error.step, 'stat');
      return true;
    });
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(io.run(writeRequest(join(dir, 'file'), 'below', Buffer.from('y'))), { name: 'FsCallError', code: 'ENOTDIR', step: 'mkdir' });
    const tooBig = await io.run({ op: 'read', path: join(dir, 'file'), maxBytes: 0 });
    assert.deepEqual(tooBig, { ok: true, isFile: true, size: 1 }, 'over maxBytes: the size, not the bytes');
    await io.close();
  });
});

test('a failed write removes the folders it made, deepest first, and keeps those that hold something', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(1);
    // A name too long for its temporary file (the name plus 26 bytes is over 255): the folders are
    // made, then the open fails.
    const tooLong = 'n'.repeat(240);
    const request = (path: string): FsRequest => ({ op: 'write', path, root: dir, body: Buffer.from('x'), fsync: true });
    await assert.rejects(io.run(request(join(dir, 'a', 'b', 'c', tooLong))), { name: 'FsCallError', code: 'ENAMETOOLONG', step: 'write' });
    assert.deepEqual(await readdir(dir), [], 'no folder left behind');
    await io.run(writeRequest(dir, 'kept', Buffer.from('k')));
    await assert.rejects(io.run(request(join(dir, 'kept', 'new', tooLong))), { name: 'FsCallError', code: 'ENAMETOOLONG' });
    assert.deepEqual(await readdir(join(dir, 'kept')), ['object.bin'], 'the folder that was there stays, with its object');
    await io.close();
  });
});

test('a thread that dies fails its requests as transient STORAGE_UNAVAILABLE; the next request gets a new thread', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(1);
    // An operation the thread does not know throws inside it, which ends the thread.
    const crash = io.run({ op: 'explode', path: dir } as unknown as FsRequest);
    await assert.rejects(crash, (error: unknown) => isStorageError(error, 'STORAGE_UNAVAILABLE') && error.transient);
    await io.run(writeRequest(dir, 'after', Buffer.from('ok')));
    assert.equal(await readFile(join(dir, 'after', 'object.bin'), 'utf8'), 'ok');
    await io.close();
  });
});

test('close lets requests already made finish, then refuses new ones; safe twice', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(2);
    const writes = Array.from({ length: 50 }, (_, i) => io.run(writeRequest(dir, `c${i}`, Buffer.from(String(i)))));
    await io.close();
    await Promise.all(writes);
    assert.equal((await readdir(dir)).length, 50);
    await assert.rejects(io.run({ op: 'stat', path: dir }), (error: unknown) => isStorageError(error, 'STORAGE_UNAVAILABLE'));
    await io.close();
  });
});

test('bodies travel at most maxMessageBodyBytes to a message: more in one turn take several messages; a larger body is refused', async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(1, { maxMessageBodyBytes: 1000 });
    const bodies = Array.from({ length: 10 }, (_, i) => Buffer.alloc(600, i));
    await Promise.all(bodies.map((body, i) => io.run(writeRequest(dir, `m${i}`, body))));
    for (const [i, body] of bodies.entries()) assert.deepEqual(await readFile(join(dir, `m${i}`, 'object.bin')), body);
    await assert.rejects(io.run(writeRequest(dir, 'big', Buffer.alloc(1001))), RangeError);
    await io.close();
  });
  assert.equal(maxMessageBodyBytes, 32 * 1024 * 1024);
});

test('a message whose bodies cannot be packed fails its requests as transient STORAGE_UNAVAILABLE, nothing left hanging or thrown', async () => {
  await withFolder(async (dir) => {
    // The copy into one message throws where memory runs out, or (Node 20) where the message
    // passes Buffer's 4 GiB limit. That used to throw from setImmediate, where nothing catches it:
    // the process died and the puts never settled. Bodies whose memory was handed to another
    // thread (detached) make the copy throw as well, on every Node and without using any memory
    // (Node 22 raised the limit to 2^53 - 1, so a 4.5 GiB message there is packed and written).
    const io = new FsIoThreads(1);
    const detached = () => {
      const body = new Uint8Array(16);
      structuredClone(body.buffer, { transfer: [body.buffer] });
      return body;
    };
    const writes = [0, 1, 2].map((i) => io.run(writeRequest(dir, `gone${i}`, detached())));
    for (const write of writes) await assert.rejects(write, (error: unknown) => isStorageError(error, 'STORAGE_UNAVAILABLE') && error.transient);
    await io.run(writeRequest(dir, 'after', Buffer.from('ok')));
    assert.equal(await readFile(join(dir, 'after', 'object.bin'), 'utf8'), 'ok');
    await io.close();
  });
});

test('a request unanswered within timeoutMs fails with ETIMEDOUT and its thread is replaced; past maxStuckThreads, requests are refused at once until a stuck one returns', { timeout: 60_000 }, async () => {
  await withFolder(async (dir) => {
    const io = new FsIoThreads(1, { timeoutMs: 500, maxStuckThreads: 2 });
    const fifo = blockingFifo(join(dir, 'fifo'));
    try {
      const hung = io.run({ op: 'read', path: join(dir, 'fifo') });
      const behind = new Promise((resolve) => setImmediate(resolve)).then(() => io.run({ op: 'stat', path: dir })); // a later message, same thread
      await assert.rejects(hung, { name: 'FsCallError', code: 'ETIMEDOUT', step: 'read', message: /no answer from the filesystem within 500 ms/ });
      await assert.rejects(behind, { name: 'FsCallError', code: 'ETIMEDOUT', step: 'stat', message: /given up with its I\/O thread/ });
      assert.equal((await io.run({ op: 'stat', path: dir })).isFile, false, 'a new thread answers');

      await assert.rejects(io.run({ op: 'read', path: join(dir, 'fifo') }), { code: 'ETIMEDOUT' });
      // Two threads blocked for good: a third would be too, so requests are refused without one.
      await assert.rejects(io.run({ op: 'stat', path: dir }), { name: 'FsCallError', code: 'ETIMEDOUT', message: /refused: 2 I\/O threads are blocked/ });
      fifo.release();
      for (let waited = 0; ; waited += 50) {
        const answer = await io.run({ op: 'stat', path: dir }).catch(() => undefined);
        if (answer) break;
        assert.ok(waited < 20_000, 'requests flow again once the stuck calls return');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await io.close();
    } finally {
      fifo.dispose();
      await io.close();
    }
  });
});
