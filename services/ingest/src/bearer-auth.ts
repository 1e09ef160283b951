import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens in constant time: every
 * token is compared (no early exit) on equal-length digests, so timing reveals neither which
 * token nor how much of it matched.
 */
export function createTokenCheck(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const known = tokens.map(digest);
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const presented = digest(match?.[1] ?? '');
    let ok = false;
    for (const candidate of known) ok = timingSafeEqual(candidate, presented) || ok;
    return ok && match !== null;
  };
}
