import type { Dirent } from 'node:fs';
import { type FileHandle, lstat, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidKey, assertValidPrefix } from './blob-key.ts';
import { encodeKeyPath, servedQueryNames, signBlob } from './blob-signature.ts';
import { createdFolders, topmost } from './created-folders.mjs';
import { folderSyncNeedless, foldersToSync } from './durable-folders.mjs';
import { defaultRequestTimeoutMs, withDeadline } from './fs-deadline.ts';
import { type FsFound, FsIoThreads, maxMessageBodyBytes } from './fs-io-threads.ts';
import { asFsCallError, errnoOf, fsError, invalidKeyCause, isMissing } from './fs-store-errors.ts';
import { makeFolder, retriesWrite } from './make-folder.mjs';
import { assertMaxBytes, assertPresignExpiry, type BlobHead, type BlobStore, type GetOptions, type PutOptions } from './blob-store.ts';
import { etagBytes } from './content-etag.mjs';
import { contentTypeFor } from './content-types.ts';
import { tooLarge } from './read-all.ts';
import { type PresignOptions, assertPresignOptions, servedContentType } from './served-content-type.ts';
import { StorageError, changed } from './storage-error.ts';
// Temporary files (`.<name>.<16 hex>.partial`): `list` hides them and no key segment may be such
// a name (assertValidKey), so a half-written upload is never mistaken for an object.
import { partialName, temporaryPathFor } from './temporary-name.mjs';

export interface FsBlobStoreOptions {
  /** Objects live at `<rootDir>/<key>`; created on the first put. */
  readonly rootDir: string;
  /** Where the HTTP services serve `/v1/blobs/<key>`, e.g. 'http://127.0.0.1:8080'. */
  readonly publicBaseUrl: string;
  /** HMAC key for presigned URLs; at least 16 characters. */
  readonly signingSecret: string;
  /**
   * fsync each object before it is renamed into place, and every folder from its own up to
   * `rootDir` after, before the put resolves (default true): after a power loss an acknowledged
   * object is there and complete. Off, a put is still atomic for readers (rename), but an object
   * written just before a crash may come back empty or not at all; the disk's fsync rate no
   * longer bounds how many objects per second can be stored.
   */
  readonly fsync?: boolean;
  /**
   * How long one filesystem request may go unanswered (default 30 s) before it fails as
   * transient STORAGE_UNAVAILABLE naming the operation and key: a hung NFS or FUSE call must not
   * hold a put, a get or `close()` for ever. An I/O thread that misses it is replaced; for a
   * streamed put each call (mkdir, open, each write, fsync, rename) has its own, since the body
   * arrives at the sender's pace.
   */
  readonly requestTimeoutMs?: number;
}

/** What `sweepPartials` found: temporary files removed (or, dry, that would be) and kept. */
export interface PartialSweep {
  readonly removed: number;
  readonly removedBytes: number;
  /** Temporary files modified more recently than the threshold: possibly writes in progress. */
  readonly kept: number;
  /**
   * Folders that could not be listed and temporary files that could not be removed (no
   * permission, an I/O error): the sweep goes on past each. `code` is the errno (or the
   * StorageError code), `message` the reason without the path.
   */
  readonly failed: readonly { readonly path: string; readonly code: string; readonly message: string }[];
}

/** A sweep's failure on `path`: Node's "EACCES: permission denied, scandir '<path>'" as code EACCES and "permission denied". */
function sweepFailure(path: string, error: unknown): PartialSweep['failed'][number] {
  const code = errnoOf(error) ?? (error instanceof StorageError ? error.code : 'INTERNAL');
  const message = error instanceof Error ? error.message : String(error);
  return { path, code, message: (message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message).replace(/, \w+ '.*'$/s, '') };
}

/** What an HTTP route needs to stream an object to a client (its headers: `blobAnswerHeaders`). */
export interface ServedBlob {
  readonly body: Readable;
  readonly bytes: number;
  /** On the allow-list (`servedContentTypes`), else application/octet-stream. */
  readonly contentType: string;
  /** What the link forced, if it did. */
  readonly disposition?: 'inline' | 'attachment';
}

/** fsyncs a folder, so the entries just made in it (a rename, a new folder) survive a power loss. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch (error) {
    if (!folderSyncNeedless(errnoOf(error))) throw asFsCallError(error, 'fsync-folder');
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** A handle that a call past its deadline opened after all: nobody will use it. */
function closeLate(found: { handle: FileHandle }): Promise<void> {
  return found.handle.close();
}

/**
 * Whether the file a get found is the version `etag` names: by the ETag of what it read, or, when
 * it was too large to be read, by its size (another size is another version; the same size over
 * the limit is as unreadable as the version seen). An ETag of another form (9f3ecbd's
 * inode-size-mtime, in jobs queued before this one) cannot be checked, and is taken, as S3 takes
 * an answer without one: failing them would fail every such job for good (IMAGE_CHANGED).
 */
function isVersion(found: FsFound, etag: string): boolean {
  const bytes = etagBytes(etag);
  if (bytes === undefined) return true;
  return found.data !== undefined ? found.etag === etag : bytes === found.size;
}

/**
 * The embedded local default: the S3 key layout as files under one directory. Puts are atomic
 * (temporary file in the same directory, fsync, rename). Content types come from the key's
 * extension (`contentTypeFor`): the store keeps no per-object metadata, so the `contentType`
 * given to `put` is not stored. Presigned URLs point at the HTTP services' `/v1/blobs/` route,
 * which checks them with `verifyBlobLink` and streams `readForServing` with `blobAnswerHeaders`.
 */
export class FsBlobStore implements BlobStore {
  readonly rootDir: string;
  /** rootDir with one trailing separator, for joining keys. */
  private readonly rootPrefix: string;
  private readonly publicBaseUrl: string;
  private readonly signingSecret: string;
  private readonly fsync: boolean;
  /**
   * Everything asked for in one turn of the event loop travels to the I/O threads as one message
   * per thread, so the more at once the fewer messages (each costs tens of µs of CPU): a batch
   * endpoint's 1,000 records.
   */
  readonly parallelism = 1000;
  private readonly requestTimeoutMs: number;
  /** Whole-object puts, heads and gets: synchronous calls on I/O threads, many per message. */
  private readonly io: FsIoThreads;
  private closed = false;
  /** The root folder made and its own entry durable: once per store, before its first put. */
  private rootReady: Promise<void> | undefined;

  constructor(options: FsBlobStoreOptions) {
    if (options.signingSecret.length < 16) throw new RangeError('signingSecret must be at least 16 characters');
    this.rootDir = resolve(options.rootDir);
    this.rootPrefix = this.rootDir.endsWith(sep) ? this.rootDir : this.rootDir + sep;
    this.publicBaseUrl = options.publicBaseUrl.replace(/\/+$/, '');
    this.signingSecret = options.signingSecret;
    this.fsync = options.fsync ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
    if (!(this.requestTimeoutMs > 0)) throw new RangeError(`requestTimeoutMs must be positive, got ${this.requestTimeoutMs}`);
    this.io = new FsIoThreads(2, { timeoutMs: this.requestTimeoutMs });
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions): Promise<void> {
    try {
      await this.write(key, body, options.contentLength);
    } catch (error) {
      // The store owns a stream body once put is called: a failed put must not leave it paused.
      if (body instanceof Readable) {
        // The caller's own stream failing is its error, not the store's: pass it through.
        if (body.errored === error) throw error;
        body.destroy();
      }
      throw fsError(error, key, 'put');
    }
  }

  /** Opens a regular file holding an object, with its size; a folder is no object. */
  private async openObject(key: string): Promise<{ handle: FileHandle; size: number }> {
    const path = this.pathFor(key);
    const opening = async () => {
      const handle = await open(path, 'r');
      const info = await handle.stat().catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      if (!info.isFile()) {
        await handle.close();
        throw new StorageError('STORAGE_NOT_FOUND', `no object ${key}`, { key });
      }
      return { handle, size: info.size };
    };
    return await this.bounded(opening(), 'open', closeLate);
  }

  /**
   * One filesystem call (or a few in a row), failing as ETIMEDOUT (transient STORAGE_UNAVAILABLE)
   * once `requestTimeoutMs` pass without an answer. The call goes on in libuv's thread pool
   * regardless; `onLate` gets what it returns if that comes after the deadline.
   */
  private bounded<T>(call: Promise<T>, step: string, onLate?: (value: T) => unknown): Promise<T> {
    return withDeadline(call, this.requestTimeoutMs, step, onLate);
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    assertMaxBytes(options.maxBytes);
    try {
      const { ifMatch } = options;
      const found = await this.io.run({ op: 'read', path: this.pathFor(key), ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }), etag: ifMatch !== undefined });
      if (!found.isFile) throw new StorageError('STORAGE_NOT_FOUND', `no object ${key}`, { key });
      if (ifMatch !== undefined && !isVersion(found, ifMatch)) throw changed(key, ifMatch, found.etag ?? `one of ${found.size ?? 0} bytes`);
      if (!found.data) throw tooLarge(key, options.maxBytes ?? 0, found.size ?? 0);
      return Buffer.from(found.data.buffer, found.data.byteOffset, found.data.byteLength);
    } catch (error) {
      throw fsError(error, key, 'get');
    }
  }

  async head(key: string): Promise<BlobHead | undefined> {
    const path = this.pathFor(key);
    try {
      const found = await this.io.run({ op: 'stat', path, etag: true });
      return found.isFile ? { bytes: found.size ?? 0, contentType: contentTypeFor(key), ...(found.etag !== undefined && { etag: found.etag }) } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw fsError(error, key, 'head');
    }
  }

  async exists(key: string): Promise<boolean> {
    const path = this.pathFor(key);
    try {
      // A stat alone: the contents are read only for an ETag, which this does not give.
      return (await this.io.run({ op: 'stat', path })).isFile === true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw fsError(error, key, 'head');
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    this.assertOpen();
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    yield* this.walk(prefix.slice(0, slash + 1), prefix.slice(slash + 1));
  }

  async delete(key: string): Promise<void> {
    const path = this.pathFor(key);
    try {
      // A folder of other objects is not an object: deleting it is deleting nothing, as in S3.
      if ((await this.bounded(lstat(path), 'lstat')).isDirectory()) return;
      await this.bounded(unlink(path), 'unlink');
    } catch (error) {
      if (isMissing(error)) return;
      throw fsError(error, key, 'delete');
    }
    await this.removeEmptyFolders(dirname(path));
  }

  /**
   * Removes `folder` and the folders above it, up to the root, while each is empty: S3 has no
   * folders, so once its last object is gone a folder's name must be free for an object again.
   * rmdir refuses a folder with anything in it (ENOTEMPTY), so a put that has its temporary file
   * in place keeps its folders; one between its mkdir and its open makes the folder again. Any
   * failure ends the walk quietly: the object is deleted, and an empty folder left behind only
   * holds its name.
   */
  private async removeEmptyFolders(folder: string): Promise<void> {
    for (let at = folder; at.startsWith(this.rootPrefix) && at.length > this.rootPrefix.length; at = dirname(at)) {
      try {
        await this.bounded(rmdir(at), 'rmdir');
      } catch {
        return;
      }
    }
  }

  /**
   * Removes the folders a failed put made, deepest first: it stored nothing, so, as on S3, it
   * must leave no folder whose name a later key (`a/b` after a failed `a/b/c`) would need.
   * ENOTEMPTY (another put's object or temporary file arrived since) ends the walk quietly, as
   * in removeEmptyFolders: the put fails either way.
   */
  private async removeCreatedFolders(folder: string, firstCreated: string | undefined): Promise<void> {
    for (const at of createdFolders(folder, this.rootDir, firstCreated)) {
      try {
        await this.bounded(rmdir(at), 'rmdir');
      } catch {
        return;
      }
    }
  }

  async presignGet(key: string, expiresInSeconds: number, options?: PresignOptions): Promise<string> {
    this.pathFor(key);
    assertPresignExpiry(expiresInSeconds);
    assertPresignOptions(options);
    const expires = Math.floor(Date.now() / 1000) + expiresInSeconds;
    const served = options && { contentType: options.contentType, disposition: options.disposition };
    const signature = signBlob(key, expires, this.signingSecret, served);
    const forced = served === undefined ? '' : `&${servedQueryNames.disposition}=${served.disposition}&${servedQueryNames.contentType}=${encodeURIComponent(served.contentType)}`;
    return `${this.publicBaseUrl}/v1/blobs/${encodeKeyPath(key)}?expires=${expires}${forced}&signature=${signature}`;
  }

  /**
   * Opens an object for an HTTP response (STORAGE_NOT_FOUND before any header is sent when it
   * is missing). The caller must consume or destroy `body`; that closes the file. `served`: what
   * the verified link forces (`verifyBlobLink`); else the key's extension's type. Either way the
   * type is allow-listed (`servedContentType`): a key ending `.html` is answered as plain bytes.
   * Send it with `blobAnswerHeaders`.
   */
  async readForServing(key: string, served?: PresignOptions): Promise<ServedBlob> {
    let handle: FileHandle | undefined;
    try {
      const opened = await this.openObject(key);
      handle = opened.handle;
      const contentType = servedContentType(served?.contentType ?? contentTypeFor(key));
      return { body: handle.createReadStream(), bytes: opened.size, contentType, ...(served !== undefined && { disposition: served.disposition }) };
    } catch (error) {
      await handle?.close().catch(() => {});
      throw fsError(error, key, 'read');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.io.close();
  }

  /**
   * Removes the temporary files of writes that never finished: a writer killed mid-write
   * (SIGKILL, OOM, power loss) leaves its `.partial` file behind, and the retried write picks a new
   * name. A write in progress touches its file as data arrives, so a threshold well above the
   * slowest upload never removes a live one. The folders a removed file leaves empty go too, as
   * after a delete: the crashed put made them, and its folder's name must be free for a key again.
   * Walks the whole store: run it from cron or by hand (`gradcam sweep-partials`), not per request.
   */
  async sweepPartials(options: { readonly olderThanMs: number; readonly dryRun?: boolean; readonly now?: number }): Promise<PartialSweep> {
    const cutoff = (options.now ?? Date.now()) - options.olderThanMs;
    let removed = 0;
    let removedBytes = 0;
    let kept = 0;
    const failed: PartialSweep['failed'][number][] = [];
    const visit = async (folder: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await this.bounded(readdir(folder, { withFileTypes: true }), 'readdir');
      } catch (error) {
        // One folder it may not read (another user's) leaves the rest of the store to sweep.
        if (!isMissing(error)) failed.push(sweepFailure(folder, error));
        return;
      }
      let emptied = false;
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) {
          await visit(path);
          continue;
        }
        if (!entry.isFile() || !partialName.test(entry.name)) continue;
        try {
          const info = await this.bounded(stat(path), 'stat');
          if (info.mtimeMs >= cutoff) {
            kept++;
            continue;
          }
          if (!options.dryRun) {
            await this.bounded(unlink(path), 'unlink');
            emptied = true;
          }
          removed++;
          removedBytes += info.size;
        } catch (error) {
          // Renamed into place or cleaned up by its writer since the readdir: nothing to do.
          if (!isMissing(error)) failed.push(sweepFailure(path, error));
        }
      }
      // Once all its entries are seen (a subfolder emptied before its last partial went, or after:
      // this covers both): rmdir refuses it while anything is left, live writes' files included.
      if (emptied) await this.removeEmptyFolders(folder);
    };
    await visit(this.rootDir);
    return { removed, removedBytes, kept, failed };
  }

  private async write(key: string, body: Uint8Array | Readable, contentLength: number | undefined): Promise<void> {
    const path = this.pathFor(key);
    if (body instanceof Uint8Array && contentLength !== undefined && contentLength !== body.byteLength) {
      throw new StorageError('STORAGE_LENGTH_MISMATCH', `body for ${key} is ${body.byteLength} bytes, contentLength said ${contentLength}`, { key });
    }
    try {
      await this.ensureRoot();
      // fsync before rename: after a crash the name must not point at data that never reached disk;
      // the folders after it, up to the root: the rename, and each folder on the path (whichever
      // put made it), is only durable once they are.
      // A body too large to copy into a message to the I/O threads is written from where it is.
      if (body instanceof Uint8Array && body.byteLength <= maxMessageBodyBytes) await this.io.run({ op: 'write', path, root: this.rootDir, body, fsync: this.fsync });
      else await this.writeStream(path, body instanceof Uint8Array ? Readable.from([body]) : body, key, contentLength);
    } catch (error) {
      throw invalidKeyCause(error, key) ?? error;
    }
  }

  private ensureRoot(): Promise<void> {
    this.rootReady ??= this.makeRootDurable().catch((error: unknown) => {
      this.rootReady = undefined; // the next put tries again
      throw error;
    });
    return this.rootReady;
  }

  /**
   * Each put fsyncs the folders from its own up to the root, which makes the root's contents
   * durable but not the root's entry in its parent. Whoever made the root (this store now, or
   * another process a moment ago, which no record here could tell) may not have synced that
   * entry, so the root's parent is synced once, and every folder above it that mkdir made now.
   */
  private async makeRootDurable(): Promise<void> {
    const made = await this.bounded(makeFolder(this.rootDir), 'mkdir');
    if (made.error !== undefined) {
      const code = errnoOf(made.error);
      if (code !== 'EEXIST' && code !== 'ENOTDIR') throw asFsCallError(made.error, 'mkdir');
      throw new StorageError('STORAGE_UNAVAILABLE', `the store's root ${this.rootDir} is not a folder: point the store at a folder, or at a path that does not exist yet`, { cause: made.error });
    }
    const parent = dirname(this.rootDir);
    if (this.fsync && parent !== this.rootDir) await this.syncFolders(foldersToSync(parent, parent, made.created));
  }

  /** fsyncs each folder, each within the deadline. */
  private async syncFolders(folders: readonly string[]): Promise<void> {
    await Promise.all(folders.map((folder) => this.bounded(syncFolder(folder), 'fsync-folder')));
  }

  /** The same steps as the I/O thread's write, with the body streamed in as it arrives. */
  private async writeStream(path: string, body: Readable, key: string, contentLength: number | undefined): Promise<void> {
    const temporary = temporaryPathFor(path);
    const folder = dirname(path);
    let handle: FileHandle | undefined;
    let created: string | undefined;
    try {
      // A delete removes the folders it empties: one can vanish during mkdir, or between it and
      // open (ENOENT): then both are tried again, as in the I/O thread.
      for (let tries = 1; handle === undefined; tries++) {
        try {
          const made = await this.bounded(makeFolder(folder), 'mkdir');
          created = topmost(created, made.created);
          if (made.error !== undefined) throw asFsCallError(made.error, 'mkdir');
          handle = await this.bounded(open(temporary, 'wx'), 'open', (late) => late.close().then(() => unlink(temporary)));
        } catch (error) {
          if (!retriesWrite(errnoOf(error), tries)) throw error;
        }
      }
      await pipeline(body, this.sink(handle, key, contentLength));
      const written = handle;
      handle = undefined;
      // One deadline for both: a close waits for a sync still in flight anyway.
      await this.bounded((this.fsync ? written.sync() : Promise.resolve()).finally(() => written.close()), this.fsync ? 'fsync' : 'close');
      await this.bounded(rename(temporary, path), 'rename').catch((error: unknown) => {
        throw asFsCallError(error, 'rename');
      });
    } catch (error) {
      const cleanup = (async () => {
        await handle?.close().catch(() => {});
        await unlink(temporary).catch(() => {});
        await this.removeCreatedFolders(folder, created);
      })();
      // After a call that got no answer, these may get none either: the put fails now, and they
      // finish when the filesystem answers (a close waits for a write still in flight).
      if (errnoOf(error) !== 'ETIMEDOUT') await this.bounded(cleanup, 'cleanup').catch(() => {});
      throw error;
    }
    if (this.fsync) await this.syncFolders(foldersToSync(folder, this.rootDir, created));
  }

  private assertOpen(): void {
    if (this.closed) throw new StorageError('STORAGE_UNAVAILABLE', 'the filesystem blob store is closed');
  }

  private pathFor(key: string): string {
    this.assertOpen();
    // Refuses, among others, names shaped like temporary files (in any segment) and segments too
    // long to take a temporary file's suffix: the same rules as S3's store.
    assertValidKey(key);
    // A valid key has no empty, '.' or '..' segment, so joining needs no normalising (path.join's
    // normalising was 4 % of ingest's CPU).
    const path = this.rootPrefix + (sep === '/' ? key : key.replaceAll('/', sep));
    // Validation already rules this out; this second check is cheap and guards future edits.
    if (!path.startsWith(this.rootPrefix) || path.length === this.rootPrefix.length) throw new StorageError('STORAGE_INVALID_KEY', `key ${key} leaves the store`, { key });
    return path;
  }

  private sink(handle: FileHandle, key: string, expected: number | undefined) {
    return async (source: AsyncIterable<Buffer | string>): Promise<void> => {
      let written = 0;
      for await (const chunk of source) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        written += bytes.length;
        if (expected !== undefined && written > expected) break;
        // One write(2) stores at most about 2 GiB, and a body given whole can be larger.
        for (let offset = 0; offset < bytes.length; ) offset += (await this.bounded(handle.write(bytes, offset), 'write')).bytesWritten;
      }
      if (expected !== undefined && written !== expected) {
        const got = written > expected ? `more than ${expected}` : String(written);
        throw new StorageError('STORAGE_LENGTH_MISMATCH', `body for ${key} was ${got} bytes, contentLength said ${expected}`, { key });
      }
    };
  }

  private async *walk(folderKey: string, namePrefix: string): AsyncGenerator<string> {
    let entries: Dirent[];
    try {
      entries = await this.bounded(readdir(join(this.rootDir, ...folderKey.split('/')), { withFileTypes: true }), 'readdir');
    } catch (error) {
      if (isMissing(error)) return;
      throw fsError(error, folderKey, 'list');
    }
    // Sorting folders as "name/" makes the walk yield keys in the same order as S3's listing,
    // which is by UTF-8 bytes: JavaScript's own string order is by UTF-16 units, which puts
    // U+10000 and above (surrogate pairs) before U+E000–U+FFFF.
    const visible = entries
      .filter((entry) => entry.name.startsWith(namePrefix) && !partialName.test(entry.name) && !entry.name.includes('\\'))
      .filter((entry) => entry.isFile() || entry.isDirectory())
      .map((entry) => ({ name: entry.name, folder: entry.isDirectory(), order: Buffer.from(entry.isDirectory() ? `${entry.name}/` : entry.name) }))
      .sort((a, b) => Buffer.compare(a.order, b.order));
    for (const entry of visible) {
      if (entry.folder) yield* this.walk(`${folderKey}${entry.name}/`, '');
      else yield `${folderKey}${entry.name}`;
    }
  }
}
