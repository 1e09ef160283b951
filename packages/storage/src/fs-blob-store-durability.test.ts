import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';

// What the kernel was asked to do is the only honest witness of durability short of pulling the
// plug: the puts run in a child process under strace, and the test reads its system calls.
const strace = spawnSync('strace', ['-f', '-o', '/dev/null', 'true']).status === 0;
const secret = 'test-signing-secret-0123456789';

interface Trace {
  /** Paths fsynced, with the log line the fsync started on. */
  readonly fsyncs: { path: string; line: number }[];
  /** Rename targets, with the log line the rename returned on. */
  readonly renames: { target: string; line: number }[];
  /** Folders made, with the log line the mkdir returned on. */
  readonly mkdirs: { path: string; line: number }[];
  /** Files opened, with the log line the open returned on. */
  readonly opens: { path: string; line: number }[];
}

/** Reads `strace -f` output, joining calls that other threads interrupted (`<unfinished ...>`). */
function parseTrace(log: string): Trace {
  const trace: Trace = { fsyncs: [], renames: [], mkdirs: [], opens: [] };
  const fds = new Map<string, string>();
  const pending = new Map<string, { name: string; args: string }>();
  const strings = (args: string) => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1] ?? ''}"`) as string);
  log.split('\n').forEach((text, line) => {
    const match = /^(\d+)\s+(.*)$/.exec(text);
    if (!match) return;
    const [, pid = '', rest = ''] = match;
    let call: { name: string; args: string; result: string | undefined };
    const started = /^(\w+)\((.*?)\s*<unfinished \.\.\.>$/.exec(rest);
    const resumed = /^<\.\.\. (\w+) resumed>(.*)\)\s+= (-?\d+)/.exec(rest);
    const whole = /^(\w+)\((.*)\)\s+= (-?\d+)/.exec(rest);
    if (started) {
      pending.set(pid, { name: started[1] ?? '', args: started[2] ?? '' });
      call = { name: started[1] ?? '', args: started[2] ?? '', result: undefined };
    } else if (resumed) {
      const begun = pending.get(pid);
      pending.delete(pid);
      call = { name: resumed[1] ?? '', args: `${begun?.args ?? ''}${resumed[2] ?? ''}`, result: resumed[3] };
    } else if (whole) {
      call = { name: whole[1] ?? '', args: whole[2] ?? '', result: whole[3] };
    } else {
      return;
    }
    // An fsync counts from when it starts; everything else from when it returns.
    if (call.name === 'fsync' && (started || whole)) {
      const fd = /^(\d+)/.exec(call.args)?.[1] ?? '';
      trace.fsyncs.push({ path: fds.get(fd) ?? `fd ${fd}`, line });
    }
    if (call.result === undefined || Number(call.result) < 0) return;
    const paths = strings(call.args);
    if (call.name === 'openat' && paths[0]) {
      fds.set(call.result, paths[0]);
      trace.opens.push({ path: paths[0], line });
    }
    if (call.name === 'close') fds.delete(/^(\d+)/.exec(call.args)?.[1] ?? '');
    if (call.name.startsWith('rename') && paths[1]) trace.renames.push({ target: paths[1], line });
    if (call.name.startsWith('mkdir') && paths[0]) trace.mkdirs.push({ path: paths[0], line });
  });
  return trace;
}

/** Runs an ES module script under `strace -f`, writing its log to `log`, and returns the calls that matter here. */
async function traceScript(script: string, log: string): Promise<Trace> {
  const child = spawn(
    'strace',
    ['-f', '-o', log, '-e', 'trace=openat,close,fsync,rename,renameat,renameat2,mkdir,mkdirat', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const [exitCode] = await once(child, 'exit');
  assert.equal(exitCode, 0);
  return parseTrace(await readFile(log, 'utf8'));
}

test('with fsync on, a put fsyncs its folder after the rename and the parent of each folder it created', { skip: !strace && 'strace is not available' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'gradcam-fs-durable-'));
  try {
    const rootDir = join(root, 'store');
    await mkdir(join(rootDir, 'm', 'v'), { recursive: true });
    const log = join(root, 'strace.log');
    // Whole-object puts (the I/O threads) and a streamed one (fs/promises), into new folders
    // and into one that already exists.
    const script = `import { Readable } from 'node:stream';
      import { FsBlobStore } from ${JSON.stringify(new URL('./fs-blob-store.ts', import.meta.url).href)};
      const store = new FsBlobStore({ rootDir: ${JSON.stringify(rootDir)}, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: ${JSON.stringify(secret)} });
      await Promise.all([
        store.put('m/v/dt=2026-01-02/id1/prediction.json', Buffer.from('{}'), { contentType: 'application/json' }),
        store.put('m/v/dt=2026-01-02/id2/prediction.json', Buffer.from('{}'), { contentType: 'application/json' }),
      ]);
      await store.put('m/v/dt=2026-01-02/id1/explanation.json', Buffer.from('{}'), { contentType: 'application/json' });
      await store.put('m/v/dt=2026-01-03/id3/input.jpg', Readable.from([Buffer.from('jpeg')]), { contentType: 'image/jpeg' });
      await store.close();`;
    const trace = await traceScript(script, log);
    const syncedAfter = (path: string, line: number) => trace.fsyncs.some((sync) => sync.path === path && sync.line > line);

    const objects = ['id1/prediction.json', 'id2/prediction.json', 'id1/explanation.json'].map((name) => join(rootDir, 'm/v/dt=2026-01-02', name));
    objects.push(join(rootDir, 'm/v/dt=2026-01-03/id3/input.jpg'));
    for (const object of objects) {
      const renamed = trace.renames.find((rename) => rename.target === object);
      assert.ok(renamed, `no rename onto ${object}`);
      const temporary = (path: string) => dirname(path) === dirname(object) && basename(path).startsWith(`.${basename(object)}.`) && path.endsWith('.partial');
      assert.ok(trace.fsyncs.some((sync) => temporary(sync.path) && sync.line < renamed.line), `${object} is fsynced before its rename`);
      assert.ok(syncedAfter(dirname(object), renamed.line), `the folder of ${object} is fsynced after its rename`);
    }
    const created = trace.mkdirs.filter((made) => made.path.startsWith(rootDir));
    assert.deepEqual(
      created.map((made) => made.path.slice(rootDir.length)).sort(),
      ['/m/v/dt=2026-01-02', '/m/v/dt=2026-01-02/id1', '/m/v/dt=2026-01-02/id2', '/m/v/dt=2026-01-03', '/m/v/dt=2026-01-03/id3'],
    );
    for (const made of created) assert.ok(syncedAfter(dirname(made.path), made.line), `the parent of the new folder ${made.path} is fsynced after the mkdir`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('with fsync on, a put into a folder another in-flight put created fsyncs every folder up to the root before it resolves', { skip: !strace && 'strace is not available' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'gradcam-fs-durable-'));
  try {
    const rootDir = join(root, 'store');
    await mkdir(join(rootDir, 'm', 'v'), { recursive: true });
    const log = join(root, 'strace.log');
    const marker = (n: number) => join(root, `resolved-${n}`);
    // Two streamed puts make their folders and then wait for their bodies; meanwhile a
    // whole-object put (an I/O thread) and a streamed one (fs/promises) each go into one of those
    // folders. Its mkdir finds the folder there, but the entries of the folders above it are not
    // durable until someone fsyncs their parents: the holders will only once their bodies end.
    const script = `import { existsSync, openSync, closeSync, readdirSync } from 'node:fs';
      import { PassThrough, Readable } from 'node:stream';
      import { FsBlobStore } from ${JSON.stringify(new URL('./fs-blob-store.ts', import.meta.url).href)};
      const rootDir = ${JSON.stringify(rootDir)};
      const store = new FsBlobStore({ rootDir, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: ${JSON.stringify(secret)} });
      const held = ['m/v/dt=2026-01-02/id1', 'm/v/dt=2026-01-03/id2'].map((folder) => {
        const body = new PassThrough();
        body.write('held');
        return { folder, body, put: store.put(folder + '/input.jpg', body, { contentType: 'image/jpeg' }) };
      });
      const opened = (folder) => existsSync(rootDir + '/' + folder) && readdirSync(rootDir + '/' + folder).some((name) => name.endsWith('.partial'));
      while (!held.every(({ folder }) => opened(folder))) await new Promise((resolve) => setTimeout(resolve, 5));
      await store.put('m/v/dt=2026-01-02/id1/prediction.json', Buffer.from('{}'), { contentType: 'application/json' });
      closeSync(openSync(${JSON.stringify(marker(1))}, 'w'));
      await store.put('m/v/dt=2026-01-03/id2/explanation.json', Readable.from([Buffer.from('{}')]), { contentType: 'application/json' });
      closeSync(openSync(${JSON.stringify(marker(2))}, 'w'));
      for (const { body } of held) body.end();
      await Promise.all(held.map(({ put }) => put));
      await store.close();`;
    const trace = await traceScript(script, log);
    const cases = [
      { object: join(rootDir, 'm/v/dt=2026-01-02/id1/prediction.json'), marker: marker(1) },
      { object: join(rootDir, 'm/v/dt=2026-01-03/id2/explanation.json'), marker: marker(2) },
    ];
    for (const { object, marker: resolvedMarker } of cases) {
      const renamed = trace.renames.find((rename) => rename.target === object);
      assert.ok(renamed, `no rename onto ${object}`);
      const resolved = trace.opens.find((open) => open.path === resolvedMarker);
      assert.ok(resolved, `the put of ${object} never resolved`);
      for (let folder = dirname(object); ; folder = dirname(folder)) {
        const synced = trace.fsyncs.some((sync) => sync.path === folder && sync.line > renamed.line && sync.line < resolved.line);
        assert.ok(synced, `${folder.slice(root.length) || '/'} is fsynced between the rename onto ${object.slice(rootDir.length)} and its put resolving`);
        if (folder === rootDir) break;
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('with fsync on, a store whose root another process made fsyncs the root’s parent before its first put resolves, once', { skip: !strace && 'strace is not available' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'gradcam-fs-durable-'));
  try {
    // Made here, never synced: the store cannot tell whether its maker synced the parent.
    const rootDir = join(root, 'store');
    await mkdir(rootDir);
    const log = join(root, 'strace.log');
    const marker = join(root, 'resolved');
    const script = `import { openSync, closeSync } from 'node:fs';
      import { FsBlobStore } from ${JSON.stringify(new URL('./fs-blob-store.ts', import.meta.url).href)};
      const store = new FsBlobStore({ rootDir: ${JSON.stringify(rootDir)}, publicBaseUrl: 'http://127.0.0.1:1', signingSecret: ${JSON.stringify(secret)} });
      await store.put('m/v/dt=2026-01-02/id1/prediction.json', Buffer.from('{}'), { contentType: 'application/json' });
      closeSync(openSync(${JSON.stringify(marker)}, 'w'));
      await store.put('m/v/dt=2026-01-02/id2/prediction.json', Buffer.from('{}'), { contentType: 'application/json' });
      await store.close();`;
    const trace = await traceScript(script, log);
    const resolved = trace.opens.find((open) => open.path === marker);
    assert.ok(resolved, 'the first put never resolved');
    const parentSyncs = trace.fsyncs.filter((sync) => sync.path === root);
    assert.equal(parentSyncs.length, 1, 'the root’s parent is fsynced once, not on every put');
    assert.ok((parentSyncs[0]?.line ?? Infinity) < resolved.line, 'before the first put resolves');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
