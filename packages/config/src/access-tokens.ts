import { ConfigError } from './config-error.ts';
import type { EnvReader } from './env-reader.ts';

// Tokens are secrets: no error here prints one, or any part of one; entries are named by number.

/**
 * What a token may hold: printable ASCII, `!` to `~`. Node reads a header's bytes as latin1 while
 * the comparison (see @gradcam/auth) digests the configured token as UTF-8, so a token with any
 * other character (an `é`, a control character) could never match what a client sends: refused
 * at boot rather than failing every request.
 */
const printableAscii = /^[\x21-\x7e]+$/;

/**
 * GRADCAM_API_TOKENS: the bearer tokens ingest accepts. Every one grants the same access, so a
 * token given twice (say, pasted again while rotating) adds and loses nothing: it is kept once
 * rather than stopping the service.
 */
export function readApiTokens(env: EnvReader): string[] {
  const name = 'GRADCAM_API_TOKENS';
  const tokens = env.list(name);
  if (tokens.length === 0) throw new ConfigError(name, 'is required: one or more comma-separated bearer tokens clients must send');
  if (tokens.some((t) => t.length < 16)) throw new ConfigError(name, 'each token must be at least 16 characters');
  // As reviewer tokens: `Authorization: Bearer <token>` carries one run of non-space characters,
  // so a token holding whitespace could never be presented.
  const spaced = tokens.findIndex((t) => /\s/.test(t));
  if (spaced >= 0) throw new ConfigError(name, `token ${spaced + 1} of ${tokens.length} holds whitespace, which a Bearer header cannot carry; tokens are 16 or more printable ASCII characters (! to ~)`);
  const foreign = tokens.findIndex((t) => !printableAscii.test(t));
  if (foreign >= 0) throw new ConfigError(name, `token ${foreign + 1} of ${tokens.length} holds a character outside printable ASCII, which no client could present; tokens are 16 or more printable ASCII characters (! to ~)`);
  return [...new Set(tokens)];
}

/**
 * GRADCAM_REVIEW_TOKENS, `alice:token1,bob:token2`: reviewer token → reviewer name, the identity
 * recorded with each verdict. A token may name one reviewer only: given to two, it would stand for
 * the last, and the first one's verdicts would be recorded as the other's. Empty entries are
 * skipped, as in every list variable.
 */
export function readReviewerTokens(env: EnvReader): Map<string, string> {
  const name = 'GRADCAM_REVIEW_TOKENS';
  const entries = env.list(name);
  if (entries.length === 0) throw new ConfigError(name, 'is required: comma-separated reviewer:token pairs, e.g. alice:<token>,bob:<token>');
  const reviewers = new Map<string, string>();
  const entryOf = new Map<string, number>();
  entries.forEach((entry, index) => {
    const match = /^([A-Za-z0-9_.@-]{1,64}):([\x21-\x7e]{16,})$/.exec(entry);
    if (!match) throw new ConfigError(name, `entry ${index + 1} of ${entries.length} is not reviewer:token (a name of A–Z a–z 0–9 _ . @ -, a token of at least 16 printable ASCII characters, ! to ~)`);
    const reviewer = match[1] as string;
    const token = match[2] as string;
    const earlier = entryOf.get(token);
    if (earlier !== undefined) {
      throw new ConfigError(name, `entries ${earlier + 1} (${reviewers.get(token)}) and ${index + 1} (${reviewer}) have the same token; a token names one reviewer, so give each entry its own`);
    }
    reviewers.set(token, reviewer);
    entryOf.set(token, index);
  });
  // Ingest and review credentials must be distinct: a leaked ingest token must not read reviews.
  const ingestTokens = new Set(env.list('GRADCAM_API_TOKENS'));
  if ([...reviewers.keys()].some((token) => ingestTokens.has(token))) throw new ConfigError(name, 'a reviewer token is also an ingest token (GRADCAM_API_TOKENS); use distinct tokens');
  return reviewers;
}
