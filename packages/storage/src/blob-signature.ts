import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertValidKey } from './blob-key.ts';

/** Hex HMAC-SHA256 over the key and expiry: the signature in the filesystem store's URLs. */
export function signBlob(key: string, expiresEpochSeconds: number, secret: string): string {
  return createHmac('sha256', secret).update(`${key}\n${expiresEpochSeconds}`).digest('hex');
}

/**
 * Checks a `/v1/blobs/<key>?expires=…&signature=…` URL made by `FsBlobStore.presignGet`.
 * `key` is the decoded path after `/v1/blobs/`. False for a bad key, a malformed or wrong
 * signature, or an expiry in the past; the comparison takes the same time however many
 * characters match, so the signature cannot be guessed byte by byte.
 */
export function verifyBlobSignature(
  key: string,
  expires: string | number,
  signature: string,
  secret: string,
  now: Date = new Date(),
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
  const expected = Buffer.from(signBlob(key, expiresEpochSeconds, secret), 'hex');
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
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
