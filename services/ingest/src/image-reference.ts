import { type ExplainJob, type PredictionDocument, parseS3Uri } from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import { assertValidKey, forEachConcurrent } from '@gradcam/storage';
import { maxImageBytes } from './inline-image.ts';

/** Where `s3://` references may point: the store's bucket, and there under one of `prefixes` (none: anywhere). */
export interface ReferenceScope {
  /** `local` for the filesystem store. */
  readonly bucket: string;
  readonly prefixes: readonly string[];
}

/** The object key an `s3://` reference names, refused unless it is in the scope's bucket, under one of its prefixes, and a valid key there. */
export function referencedKey(scope: ReferenceScope, uri: string): string {
  const storeBucket = scope.bucket;
  let parsed: { bucket: string; key: string };
  try {
    parsed = parseS3Uri(uri);
  } catch (error) {
    throw new ApiError(422, 'IMAGE_URI_INVALID', `image.uri is not s3://bucket/key: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { bucket, key } = parsed;
  if (bucket !== storeBucket) throw new ApiError(422, 'IMAGE_URI_OUTSIDE_BUCKET', `image.uri must be inside s3://${storeBucket}/, got ${uri}`);
  try {
    assertValidKey(key);
  } catch (error) {
    throw new ApiError(422, 'IMAGE_URI_INVALID', `image.uri names no object: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (scope.prefixes.length > 0 && !scope.prefixes.some((prefix) => key.startsWith(prefix))) {
    const allowed = scope.prefixes.map((prefix) => `s3://${storeBucket}/${prefix}`).join(', ');
    throw new ApiError(422, 'IMAGE_URI_NOT_ALLOWED', `image.uri must name an object under ${allowed} (where this ingest takes references from), got ${uri}`);
  }
  return key;
}

/** What a HEAD of a referenced object gives: its size, and its version where the store names one (BlobHead.etag). */
export interface ReferencedHead {
  readonly bytes: number;
  readonly etag?: string | undefined;
}

/** What a HEAD of a referenced key found, or why it failed. */
export type Looked = { readonly head: ReferencedHead | undefined } | { readonly error: unknown };

/** HEADs each key once, at most `store.parallelism` at a time; a failure is kept for the keys' records, not thrown. */
export async function lookAtReferences(
  store: { readonly parallelism: number; head(key: string): Promise<ReferencedHead | undefined> },
  keys: Iterable<string>,
): Promise<Map<string, Looked>> {
  const looked = new Map<string, Looked>();
  await forEachConcurrent([...new Set(keys)], store.parallelism, async (key) => {
    try {
      looked.set(key, { head: await store.head(key) });
    } catch (error) {
      looked.set(key, { error });
    }
  });
  return looked;
}

/**
 * The image a reference names, as prediction.json and the job record it: refused when its HEAD
 * failed, found nothing, or found it too large. Its size and ETag let the worker refuse an object
 * written under the key since (IMAGE_CHANGED): the explanation must be of the image predicted on.
 */
export function referencedImage(uri: string, looked: Looked | undefined): { uri: string; bytes: number; etag?: string } {
  if (looked === undefined) throw new Error(`no HEAD was taken of ${uri}`);
  if ('error' in looked) throw looked.error;
  const { head } = looked;
  if (!head) throw new ApiError(422, 'IMAGE_NOT_FOUND', `no object at ${uri}`);
  if (head.bytes > maxImageBytes) throw new ApiError(413, 'IMAGE_TOO_LARGE', `${uri} is ${head.bytes} bytes; the limit is ${maxImageBytes}`);
  return { uri, bytes: head.bytes, ...(head.etag !== undefined && { etag: head.etag }) };
}

/** The job's image: where it is and what identifies it (the content type is prediction.json's alone). */
export function jobImage({ contentType: _contentType, ...image }: PredictionDocument['image']): ExplainJob['image'] {
  return image;
}
