// The filesystem store when the filesystem misbehaves: folders vanishing under puts, calls that
// never return (a hung NFS or FUSE mount), a read-only volume.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FsBlobStore } from './fs-blob-store.ts';
import { isStorageError } from './storage-error.ts';
import { blockingFifo } from './test-fifo.ts';

const secret = 'test-signing-secret-0123456789';
const json = { contentType: 'application/json' };

async function withFolder(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gradcam-fs-faults-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A transient STORAGE_UNAVAILABLE whose message names the operation and the key. */
const unavailableNaming = (action: string, key: string) => (error: unknown) => {
  assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE'), String(error));
  assert.equal(error.transient, true);
  assert.equal(error.key, key);
  assert.match(error.message, new RegExp(`^filesystem ${action} ${key}: .*within \\d+ ms`));
  return true;
};

test('streamed puts into a folder that keeps vanishing during their mkdir try again; no put answers STORAGE_NOT_FOUND', async () => {
  await withFolder(async (dir) => {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret });
    await store.put('a/warm.json', Buffer.from('{}'), json);
    // Another process making and removing the folder without pause stands in for deletes emptying
    // it: a recursive mkdir finds it there (EEXIST), then its stat finds it gone (ENOENT), which
    // was a permanent STORAGE_NOT_FOUND for the streamed put (the I/O threads tried again).
    const folder = join(dir, 'a', 'b', 'c', 'd');
    const churn = spawn(
      process.execPath,
      ['-e', `const { mkdirSync, rmdirSync } = require('node:fs'); const f = ${JSON.stringify(folder)}; for (;;) { try { mkdirSync(f, { recursive: true }); } catch {} try { rmdirSync(f); } catch {} }`],
      { stdio: 'ignore' },
    );
    try {
      const outcomes: string[] = [];
      for (let i = 0; i < 100; i++) {
        for (const body of [Readable.from([Buffer.from('x')]), Buffer.from('x')]) {
          try {
            await store.put('a/b/c/d/o.json', body, json);
            outcomes.push('ok');
            await store.delete('a/b/c/d/o.json');
          } catch (error) {
            // Deletes that kept winning through every try: the store's fault, for a while.
            assert.ok(isStorageError(error, 'STORAGE_UNAVAILABLE') && error.transient, `put ${i}: ${String(error)}`);
            outcomes.push('transient');
          }
        }
      }
      assert.ok(outcomes.includes('ok'), 'some puts landed');
    } finally {
      churn.kill('SIGKILL');
      await once(churn, 'exit');
      await store.close();
    }
  });
});

test('a filesystem call that never returns fails as transient STORAGE_UNAVAILABLE after requestTimeoutMs; the requests after it all settle, its I/O thread is replaced, close settles', { timeout: 60_000 }, async () => {
  await withFolder(async (dir) => {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret, fsync: false, requestTimeoutMs: 1500 });
    await store.put('ok/warm.json', Buffer.from('{}'), json);
    const fifo = blockingFifo(join(dir, 'ok', 'stuck.json'));
    try {
      const hung = store.get('ok/stuck.json'); // blocks one I/O thread in open(2)
      hung.catch(() => {});
      // Its message is on the thread, which then says nothing for longer than half the deadline.
      await sleep(1_000);

      // While one thread is silent that long, a turn's requests go to the other one.
      const during = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => store.put(`ok/during-${i}.json`, Buffer.from('{}'), json)));
      assert.deepEqual(
        during.map((outcome) => outcome.status),
        Array<string>(10).fill('fulfilled'),
      );
      await assert.rejects(hung, unavailableNaming('get', 'ok/stuck.json'));

      // The stuck thread was given up and replaced: a turn's requests spread over both threads again.
      const after = Array.from({ length: 10 }, (_, i) => store.put(`ok/after-${i}.json`, Buffer.from('{}'), json));
      await Promise.all(after);
      assert.deepEqual(await store.get('ok/after-9.json'), Buffer.from('{}'));

      // A request made in the same turn as a hung one shares its thread half the time: every one
      // settles by the deadline, none waits for ever.
      const stuckAgain = store.get('ok/stuck.json');
      const beside = Array.from({ length: 10 }, (_, i) => store.head(`ok/during-${i}.json`));
      const settled = await Promise.allSettled([stuckAgain, ...beside]);
      assert.equal(settled[0]?.status, 'rejected');
      for (const outcome of settled.slice(1)) {
        if (outcome.status === 'rejected') assert.ok(isStorageError(outcome.reason, 'STORAGE_UNAVAILABLE') && outcome.reason.transient, String(outcome.reason));
      }

      // close() waits for requests in flight only up to their deadline.
      const lastHung = store.get('ok/stuck.json');
      lastHung.catch(() => {});
      await sleep(100);
      await store.close();
      await assert.rejects(lastHung, unavailableNaming('get', 'ok/stuck.json'));
    } finally {
      fifo.dispose();
      await store.close();
    }
  });
});

test('the streamed put and readForServing (fs/promises) fail as transient STORAGE_UNAVAILABLE after requestTimeoutMs, leaking no file handle', { timeout: 60_000 }, async () => {
  await withFolder(async (dir) => {
    const store = new FsBlobStore({ rootDir: dir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: secret, fsync: false, requestTimeoutMs: 1500 });
    await store.put('ok/warm.json', Buffer.from('{}'), json);
    const openFds = () => (existsSync('/proc/self/fd') ? readdirSync('/proc/self/fd').length : 0);
    const fdsBefore = openFds();
    const fifo = blockingFifo(join(dir, 'ok', 'stuck.json'));
    try {
      // Each open blocks one of libuv's threads (4 unless UV_THREADPOOL_SIZE says more), the rest
      // queue: a hung mount takes the whole pool, so every fs/promises call after them waits too.
      const served = Array.from({ length: 16 }, () => store.readForServing('ok/stuck.json'));
      const streamed = store.put('ok/streamed.json', Readable.from([Buffer.from('{}')]), json);
      for (const serving of served) await assert.rejects(serving, unavailableNaming('read', 'ok/stuck.json'));
      await assert.rejects(streamed, unavailableNaming('put', 'ok/streamed.json'));
      await store.close();
    } finally {
      fifo.dispose();
      await store.close();
    }
    // The opens that returned after their deadline have their handles closed.
    for (let waited = 0; openFds() > fdsBefore; waited += 50) {
      assert.ok(waited < 20_000, `${openFds() - fdsBefore} file handles still open`);
      await sleep(50);
    }
  });
});

test('a read-only volume is STORAGE_ACCESS_DENIED (EROFS) for whole and streamed puts, not STORAGE_NOT_FOUND', { timeout: 60_000 }, async (t) => {
  await withFolder(async (dir) => {
    // Only a mount makes a volume read-only for root as well (chmod does not stop root): a tmpfs
    // in a private mount namespace, as root, or as anyone where unprivileged user namespaces are
    // allowed. Elsewhere the test says it is skipped, and why.
    const script = `
      import { Readable } from 'node:stream';
      import { FsBlobStore } from ${JSON.stringify(new URL('./fs-blob-store.ts', import.meta.url).href)};
      import { makeFolder, makeFolderSync } from ${JSON.stringify(new URL('./make-folder.mjs', import.meta.url).href)};
      const root = ${JSON.stringify(join(dir, 'store'))};
      const store = new FsBlobStore({ rootDir: root, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: ${JSON.stringify(secret)} });
      const outcome = (p) => p.then(() => 'ok', (e) => ({ code: e.code, transient: e.transient, cause: e.cause?.code }));
      console.log(JSON.stringify({
        makeFolderSync: makeFolderSync(root + '/m/v/dt=1').error?.code,
        makeFolder: (await makeFolder(root + '/m/v/dt=1')).error?.code,
        whole: await outcome(store.put('m/v/dt=1/id/x.json', Buffer.from('{}'), { contentType: 'application/json' })),
        streamed: await outcome(store.put('m/v/dt=1/id/y.json', Readable.from([Buffer.from('{}')]), { contentType: 'application/json' })),
        get: await outcome(store.get('pre/existing.json')),
      }));
      await store.close();`;
    const shell = `
      mount -t tmpfs -o size=4m tmpfs "$0" || exit 0
      mkdir -p "$0/store/pre" && echo '{}' > "$0/store/pre/existing.json" && mount -o remount,ro "$0" || exit 0
      echo mounted
      exec "$1" --import tsx --input-type=module -e "$2"`;
    const asRoot = process.getuid?.() === 0;
    const child = spawn('unshare', [...(asRoot ? [] : ['--map-root-user']), '--mount', 'sh', '-c', shell, dir, process.execPath, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('error', () => {}); // no unshare: the exit below says so
    const [code] = (await once(child, 'close')) as [number | null];
    const [marker, result] = output.trim().split('\n');
    if (marker !== 'mounted') {
      t.skip(`cannot mount a read-only tmpfs in a private mount namespace here (unshare${asRoot ? '' : ' --map-root-user'}: ${errors.trim() || `exit ${code}`})`);
      return;
    }
    assert.equal(code, 0, errors);
    const denied = { code: 'STORAGE_ACCESS_DENIED', transient: false, cause: 'EROFS' };
    assert.deepEqual(JSON.parse(result ?? ''), { makeFolderSync: 'EROFS', makeFolder: 'EROFS', whole: denied, streamed: denied, get: 'ok' });
  });
});
