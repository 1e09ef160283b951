// Body of a filesystem I/O thread (see fs-io-threads.ts; the message protocol is
// @gradcam/thread-calls'): runs each request of a message with synchronous calls and answers them
// all in one message. Plain JavaScript, because worker threads do not inherit the process's
// TypeScript loader and this needs nothing but node:fs.
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort } from 'node:worker_threads';
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

/** mkdir -p, then a temporary file written (and fsynced) in full, then renamed into place. */
function write({ path, fsync, offset, length }, _transfer, bodies) {
  const body = new Uint8Array(bodies, offset, length);
  const folder = dirname(path);
  const temporary = temporaryPathFor(path);
  let step = 'mkdir';
  let fd;
  try {
    mkdirSync(folder, { recursive: true });
    step = 'write';
    fd = openSync(temporary, 'wx');
    for (let offset = 0; offset < body.byteLength; ) offset += writeSync(fd, body, offset);
    if (fsync) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    step = 'rename';
    renameSync(temporary, path);
    return { ok: true };
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    if (step !== 'mkdir') {
      try {
        unlinkSync(temporary);
      } catch {
        // Never created, or already renamed: nothing to clean up.
      }
    }
    return failure(error, step);
  }
}

function stat({ path }) {
  try {
    const info = statSync(path);
    return { ok: true, isFile: info.isFile(), size: info.size };
  } catch (error) {
    return failure(error, 'stat');
  }
}

/** The whole file, unless it is no regular file or over `maxBytes` (then only its size). */
function read({ path, maxBytes }, transfer) {
  let fd;
  try {
    fd = openSync(path, 'r');
    const info = fstatSync(fd);
    if (!info.isFile() || (maxBytes !== undefined && info.size > maxBytes)) return { ok: true, isFile: info.isFile(), size: info.size };
    const data = new Uint8Array(info.size);
    let length = 0;
    for (let got = -1; length < data.length && got !== 0; length += got) got = readSync(fd, data, length, data.length - length, length);
    transfer.push(data.buffer);
    return { ok: true, isFile: true, size: length, data: data.subarray(0, length) };
  } catch (error) {
    return failure(error, 'read');
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

const operations = { write, stat, read };

parentPort.on('message', ({ id, request: { requests, bodies } }) => {
  const transfer = [];
  const reply = requests.map((request) => operations[request.op](request, transfer, bodies));
  parentPort.postMessage({ id, reply }, transfer);
});
