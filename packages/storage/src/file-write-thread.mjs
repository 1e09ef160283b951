// The body of FileWritePool's threads (plain JavaScript: worker threads do not inherit the
// TypeScript loader everywhere). Each message is one whole atomic write, done with blocking
// calls: one message each way instead of six libuv requests, each of which costs the main
// thread a wake-up (see file-write-pool.ts).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', ({ id, path, temporary, body, fsync }) => {
  let stage = 'mkdir';
  let fd;
  try {
    mkdirSync(dirname(path), { recursive: true });
    stage = 'write';
    fd = openSync(temporary, 'wx');
    for (let written = 0; written < body.byteLength; ) written += writeSync(fd, body, written);
    // fsync before rename: after a crash the name must not point at data that never reached disk.
    if (fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    stage = 'rename';
    renameSync(temporary, path);
    parentPort?.postMessage({ id });
  } catch (error) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    if (stage !== 'mkdir') try { unlinkSync(temporary); } catch { /* never created */ }
    parentPort?.postMessage({ id, error: { stage, code: error?.code, message: error?.message ?? String(error) } });
  }
});
