import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (token: string) => createHash('sha256').update(token).digest();

/**
 * Resolves `Authorization: Bearer <token>` to the identity the token belongs to, in constant
 * time: every known token is compared (no early exit) on equal-length digests, so timing reveals
 * neither which token nor how much of it matched.
 */
export function createBearerAuth<Identity>(tokens: ReadonlyMap<string, Identity>): (authorization: string | undefined) => Identity | undefined {
  const known = [...tokens].map(([token, identity]) => ({ digest: digest(token), identity }));
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const presented = digest(match?.[1] ?? '');
    let found: Identity | undefined;
    for (const candidate of known) if (timingSafeEqual(candidate.digest, presented)) found = candidate.identity;
    return match === null ? undefined : found;
  };
}
