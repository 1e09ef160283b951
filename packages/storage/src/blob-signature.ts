import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertValidKey } from './blob-key.ts';
import type { PresignOptions } from './served-content-type.ts';

/** The query parameters of a filesystem-store link that force its answer's headers (S3's names). */
export const servedQueryNames = { contentType: 'response-content-type', disposition: 'response-content-disposition' } as const;

/**
 * Hex HMAC-SHA256 over the key and expiry (and the forced content type and disposition, when the
 * link has them): the signature in the filesystem store's URLs. Neither a key nor an allowed
 * content type holds a newline, so the signed text reads one way only.
 */
export function signBlob(key: string, expiresEpochSeconds: number, secret: string, served?: PresignOptions): string {
  const text = served === undefined ? `${key}\n${expiresEpochSeconds}` : `${key}\n${expiresEpochSeconds}\n${served.contentType}\n${served.disposition}`;
  return createHmac('sha256', secret).update(text).digest('hex');
}

/**
 * Checks a `/v1/blobs/<key>?expires=…&signature=…` URL made by `FsBlobStore.presignGet`.
 * `key` is the decoded path after `/v1/blobs/`; `served`, the content type and disposition the URL
 * forces (its `response-content-type` and `response-content-disposition`), if any. False for a bad
 * key, a malformed or wrong signature (other forced headers than were signed included), or an
 * expiry in the past; the comparison takes the same time however many characters match, so the
 * signature cannot be guessed byte by byte.
 */
export function verifyBlobSignature(
  key: string,
  expires: string | number,
  signature: string,
  secret: string,
  now: Date = new Date(),
  served?: PresignOptions,
): boolean {
  try {
    assertValidKey(key);
  } catch {
    return false;
  }
  const expiresText = String(expires);
  if (!/^\d{1,12}$/.test(expiresText) || !/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expiresEpochSeconds = Number(expiresText);
  if (Math.floor(now.getTime() / 1000) > expiresEpochSeconds) return false;
  const expected = Buffer.from(signBlob(key, expiresEpochSeconds, secret, served), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** A verified link: what it forces its answer to say, if anything. */
export interface VerifiedBlobLink {
  readonly served: PresignOptions | undefined;
}

/**
 * Checks a `/v1/blobs/<key>` request's whole query (as an HTTP framework parsed it: a repeated
 * parameter is an array, and refused): the link as `FsBlobStore.presignGet` made it, or undefined.
 * Serve the object with `readForServing(key, link.served)`.
 */
export function verifyBlobLink(key: string, query: unknown, secret: string, now: Date = new Date()): VerifiedBlobLink | undefined {
  const params = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>;
  const text = (name: string): string | undefined | null => {
    const value = params[name];
    if (value === undefined) return undefined;
    return typeof value === 'string' ? value : null;
  };
  const [expires, signature, contentType, disposition] = ['expires', 'signature', servedQueryNames.contentType, servedQueryNames.disposition].map(text);
  if (typeof expires !== 'string' || typeof signature !== 'string' || contentType === null || disposition === null) return undefined;
  if ((contentType === undefined) !== (disposition === undefined)) return undefined;
  let served: PresignOptions | undefined;
  if (contentType !== undefined) {
    if (disposition !== 'inline' && disposition !== 'attachment') return undefined;
    served = { contentType, disposition };
  }
  return verifyBlobSignature(key, expires, signature, secret, now, served) ? { served } : undefined;
}

/** Each segment percent-encoded, slashes kept: the key as a URL path. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * The key from the URL path after `/v1/blobs/` (each segment percent-decoded), or undefined
 * when the encoding is malformed. Check the result with `verifyBlobSignature`.
 */
export function decodeKeyPath(path: string): string | undefined {
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}
