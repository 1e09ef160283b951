import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsCallError, type FsRequest, FsIoThreads } from './fs-io-threads.ts';
import { isStorageError } from './storage-error.ts';

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
