import { createHash } from 'node:crypto';

/**
 * A token's fingerprint, to record which token did something without keeping the token: the
 * first 12 hex digits of its SHA-256. Tokens are 16 or more characters chosen at random, so the
 * fingerprint tells who holds which token (`printf %s "$token" | sha256sum | cut -c1-12`) and
 * cannot be turned back into it.
 */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}
