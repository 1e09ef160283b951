// Body of a filesystem I/O thread (see fs-io-threads.ts; the message protocol is
// @gradcam/thread-calls'): runs each request of a message with synchronous calls and answers them
// all in one message. Plain JavaScript, because worker threads do not inherit the process's
// TypeScript loader and this needs nothing but node:fs.
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
import { contentEtag, fileEtag } from './content-etag.mjs';
import { createdFolders, topmost } from './created-folders.mjs';
import { folderSyncNeedless, foldersToSync } from './durable-folders.mjs';
import { makeFolderSync, retriesWrite } from './make-folder.mjs';
import { temporaryPathFor } from './temporary-name.mjs';

/** `step` tells the caller which call failed, so it can name the cause (a key through an object…). */
function failure(error, step) {
  return { ok: false, step, code: typeof error?.code === 'string' ? error.code : undefined, message: error instanceof Error ? error.message : String(error) };
}

function closeQuietly(fd) {
  try {
    closeSync(fd);
  } catch {
    // Already failing: the first error is the one to report.
  }
}

/**
 * Removes the folders a failed put made, deepest first, as a delete removes the folders it
 * empties: rmdir refuses one that another put has put something in since (ENOTEMPTY), and then
 * the folders above it hold that too. Any failure ends the walk: the put fails either way.
 */
function removeCreatedFolders(folder, root, firstCreated) {
  for (const at of createdFolders(folder, root, firstCreated)) {
    try {
      rmdirSync(at);
    } catch {
      return;
    }
  }
}

/**
 * mkdir -p, then a temporary file written (and fsynced) in full, then renamed into place. With
 * fsync, the folders whose entries must be durable (up to `root`, the store's root directory) are
 * named in `sync`: the message's handler fsyncs them once all its writes are in place, before any
 * is answered. A delete removes the folders it empties, so one can vanish during this mkdir or
 * between it and the file (ENOENT): then it is made again (retriesWrite). A put that fails
 * removes the folders it made.
 */
function write({ path, root, fsync, offset, length }, _transfer, bodies) {
  const body = new Uint8Array(bodies, offset, length);
  const folder = dirname(path);
  let created;
  for (let tries = 1; ; tries++) {
    const attempt = writeOnce(path, folder, body, fsync);
    created = topmost(created, attempt.created);
    if (attempt.ok) return fsync ? { ok: true, sync: foldersToSync(folder, root, created) } : { ok: true };
    if (!retriesWrite(attempt.code, tries)) {
      removeCreatedFolders(folder, root, created);
      return failure(attempt.error, attempt.step);
    }
  }
}

function writeOnce(path, folder, body, fsync) {
  const temporary = temporaryPathFor(path);
  let step = 'mkdir';
  let fd;
  let created;
  try {
    const made = makeFolderSync(folder);
    created = made.created;
    if (made.error) throw made.error;
    step = 'write';
    fd = openSync(temporary, 'wx');
    for (let offset = 0; offset < body.byteLength; ) offset += writeSync(fd, body, offset);
    if (fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    step = 'rename';
    renameSync(temporary, path);
    return { ok: true, created };
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    if (step !== 'mkdir') {
      try {
        unlinkSync(temporary);
      } catch {
        // Never created, or already renamed: nothing to clean up.
      }
    }
    return { ok: false, error, step, code: error?.code, created };
  }
}

/** With `etag`, a file's contents are read for it (content-etag.mjs): size and ETag are of the one file opened. */
function stat({ path, etag }) {
  let fd;
  try {
    const info = statSync(path);
    if (!etag || !info.isFile()) return { ok: true, isFile: info.isFile(), size: info.size };
    fd = openSync(path, 'r');
    const opened = fstatSync(fd);
    if (!opened.isFile()) return { ok: true, isFile: false, size: opened.size };
    return { ok: true, isFile: true, size: opened.size, etag: fileEtag(fd) };
  } catch (error) {
    return failure(error, 'stat');
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * The whole file, unless it is no regular file or over `maxBytes` (then only its size); with
 * `etag`, the ETag of the bytes read (content-etag.mjs).
 */
function read({ path, maxBytes, etag }, transfer) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const info = fstatSync(fd);
    if (!info.isFile()) return { ok: true, isFile: false, size: info.size };
    if (maxBytes !== undefined && info.size > maxBytes) return { ok: true, isFile: true, size: info.size };
    const data = new Uint8Array(info.size);
    let length = 0;
    for (let got = -1; length < data.length && got !== 0; length += got) got = readSync(fd, data, length, data.length - length, length);
    transfer.push(data.buffer);
    const read = data.subarray(0, length);
    return { ok: true, isFile: true, size: length, data: read, ...(etag && { etag: contentEtag(read) }) };
  } catch (error) {
    return failure(error, 'read');
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * fsyncs each folder the message's writes named once, however many writes share it: a batch of
 * records in one dt= folder syncs that folder once. The first sync commits the filesystem's
 * journal with every rename and mkdir of the message in it, so the rest are cheap. A write whose
 * folder cannot be synced fails (its object is in place, but not yet durable).
 */
function syncFolders(reply, moving) {
  const waiting = new Map();
  reply.forEach((result, index) => {
    if (!result.sync) return;
    for (const folder of result.sync) waiting.set(folder, [...(waiting.get(folder) ?? []), index]);
    delete result.sync;
  });
  for (const [folder, indexes] of waiting) {
    let fd;
    try {
      fd = openSync(folder, 'r');
      fsyncSync(fd);
    } catch (error) {
      if (!folderSyncNeedless(error?.code)) for (const index of indexes) if (reply[index].ok) reply[index] = failure(error, 'fsync-folder');
    } finally {
      if (fd !== undefined) closeQuietly(fd);
    }
    moving();
  }
}

const operations = { write, stat, read };

/**
 * How often a message's work says it is moving (`threadProgress` of @gradcam/thread-calls): the
 * store's deadline is on silence, so a message of a thousand fsynced writes on a slow disk is
 * not taken for a hung call, while one call that never returns still is.
 */
const progressEveryMs = 1000;
let lastSaid = 0;
function moving() {
  const now = Date.now();
  if (now - lastSaid < progressEveryMs) return;
  lastSaid = now;
  parentPort.postMessage({ progress: true });
}

parentPort.on('message', ({ id, request: { requests, bodies } }) => {
  const transfer = [];
  lastSaid = Date.now();
  const reply = requests.map((request) => {
    const result = operations[request.op](request, transfer, bodies);
    moving();
    return result;
  });
  syncFolders(reply, moving);
  parentPort.postMessage({ id, reply }, transfer);
});
