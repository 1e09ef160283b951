// The filesystem store's ETags, in one place for the store (TypeScript) and its I/O threads (plain
// JavaScript, which cannot load TypeScript). An ETag names an object's contents, not the file that
// holds them: a false "changed" fails a worker's job for good (IMAGE_CHANGED), and the inode and
// modification time change where the bytes do not (a copy or restore of the store's folder,
// another host's mount, a retried upload of the same bytes). So: the sha256 of the contents, and
// their size, which tells another version apart without reading a file too large to read.
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

/** Read in pieces: a HEAD of a large object must not hold the whole of it in memory. */
const chunk = Buffer.allocUnsafe(1024 * 1024);

/** The ETag of `data`, the whole contents of an object. */
export function contentEtag(data) {
  return `${createHash('sha256').update(data).digest('hex')}-${data.byteLength.toString(16)}`;
}

/** The ETag of the open file `fd`, read from its start to its end. */
export function fileEtag(fd) {
  const hash = createHash('sha256');
  let size = 0;
  for (let got; (got = readSync(fd, chunk, 0, chunk.length, size)) > 0; size += got) hash.update(chunk.subarray(0, got));
  return `${hash.digest('hex')}-${size.toString(16)}`;
}

/** The size an ETag of this store names, or undefined for another form (another store's). */
export function etagBytes(etag) {
  const match = /^[0-9a-f]{64}-([0-9a-f]+)$/.exec(etag);
  return match ? Number.parseInt(match[1], 16) : undefined;
}
