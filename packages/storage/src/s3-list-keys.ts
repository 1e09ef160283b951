import { ListObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3StorageError } from './s3-error-mapping.ts';
import { StorageError } from './storage-error.ts';

function outOfOrder(prefix: string, detail: string): StorageError {
  return new StorageError(
    'STORAGE_UNAVAILABLE',
    `S3 ListObjects ${prefix}: the server listed keys out of order (${detail}); paging by marker would skip keys, so the listing is refused rather than returned short`,
    { key: prefix },
  );
}

/**
 * Every key under `prefix`, page by page, refusing a listing that paging may have cut short.
 *
 * ListObjects (v1) paged by marker, not v2's continuation tokens: s3rver 3.7.1 makes those tokens
 * with DES, which OpenSSL 3 (Node >= 17) refuses, so every truncated v2 listing is a 500 there. v1
 * is served by AWS and every S3-compatible server; the last key of a page is the marker for the
 * next one (NextMarker only comes with a delimiter).
 *
 * A marker means "keys after this one in UTF-8 byte order", so paging is only sound on a server
 * that lists in that order. s3rver walks folders one name at a time ('abc/…' before 'abc-1/…'
 * and 'abc.json', though '-' and '.' sort below '/'), then filters the next page by key > marker:
 * siblings listed after a page boundary but sorting before it vanish. Within a single page that
 * order loses nothing and is let through; once paging is involved a key at or before the previous
 * one, or a page marked truncated followed by an empty one (the siblings were all that was left),
 * is STORAGE_UNAVAILABLE instead of a silently short listing.
 */
export async function* listKeys(client: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectsCommand({ Bucket: bucket, Prefix: prefix, Marker: marker })).catch((error: unknown) => {
      throw s3StorageError(error, prefix, 'ListObjects');
    });
    const keys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
    const truncated = page.IsTruncated === true;
    if (marker !== undefined && keys.length === 0) {
      throw outOfOrder(prefix, `a page marked truncated, ending at ${JSON.stringify(marker)}, was followed by an empty one`);
    }
    // Checked before any key of the page is handed out: a caller never sees half a bad page.
    if (truncated || marker !== undefined) {
      let previous = marker === undefined ? undefined : Buffer.from(marker);
      for (const key of keys) {
        const current = Buffer.from(key);
        if (previous !== undefined && Buffer.compare(current, previous) <= 0) {
          throw outOfOrder(prefix, `${JSON.stringify(key)} came after ${JSON.stringify(previous.toString())}`);
        }
        previous = current;
      }
    }
    yield* keys;
    if (!truncated) return;
    const next = page.NextMarker ?? keys.at(-1);
    // A truncated page without keys cannot be continued; stopping beats asking forever.
    if (next === undefined || next === marker) {
      throw new StorageError('STORAGE_UNAVAILABLE', `S3 ListObjects ${prefix}: a truncated page gave no marker to continue from`, { key: prefix });
    }
    marker = next;
  }
}
