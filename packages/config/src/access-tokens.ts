import { ConfigError } from './config-error.ts';
import type { EnvReader } from './env-reader.ts';

// Tokens are secrets: no error here prints one, or any part of one; entries are named by number.

/**
 * The characters a token may hold: those a client can send in a header and Node reads back as
 * the same string, byte for byte as latin1: printable ASCII (`!` to `~`) and U+0080–U+00FF but
 * the no-break space (clients send `ö` as the one byte 0xF6, read back as `ö`). A control
 * character, whitespace, or anything past U+00FF (a `€`, an emoji) could never match what a
 * client sends: refused at boot rather than failing every request.
 */
const tokenCharacters = '\\x21-\\x7e\\x80-\\x9f\\xa1-\\xff';
const headerSafe = new RegExp(`^[${tokenCharacters}]+$`);
/** A whole token as GRADCAM_API_TOKENS, GRADCAM_ERASE_TOKENS and GRADCAM_REVIEW_TOKENS accept it (list commas aside). */
export const usableTokenPattern = new RegExp(`^[${tokenCharacters}]{16,}$`);
const tokenRule = 'tokens are 16 or more characters of printable ASCII (! to ~) or Latin-1 (U+0080-U+00FF)';

/**
 * GRADCAM_API_TOKENS: the bearer tokens ingest accepts. Every one grants the same access, so a
 * token given twice (say, pasted again while rotating) adds and loses nothing: it is kept once
 * rather than stopping the service.
 */
export function readApiTokens(env: EnvReader): string[] {
  const name = 'GRADCAM_API_TOKENS';
  const tokens = env.list(name);
  if (tokens.length === 0) throw new ConfigError(name, 'is required: one or more comma-separated bearer tokens clients must send');
  return checkedTokens(name, tokens);
}

/**
 * GRADCAM_ERASE_TOKENS: the bearer tokens DELETE /v1/inferences/{id} (erasure on request) takes,
 * in the same format as GRADCAM_API_TOKENS. Unset or empty: erasure is disabled (403
 * ERASURE_DISABLED). Producers hold the API tokens, many of them and widely deployed, and an
 * erasure removes audit evidence, so an erase token may not also be an API token: a producer's
 * token never erases, and an erase token accepts no record.
 */
export function readEraseTokens(env: EnvReader): string[] {
  const name = 'GRADCAM_ERASE_TOKENS';
  const tokens = env.list(name);
  if (tokens.length === 0) return [];
  const checked = checkedTokens(name, tokens);
  const apiTokens = new Set(env.list('GRADCAM_API_TOKENS'));
  const shared = checked.findIndex((token) => apiTokens.has(token));
  if (shared >= 0) throw new ConfigError(name, `token ${shared + 1} of ${checked.length} is also an API token (GRADCAM_API_TOKENS); erasure takes a token of its own, so give it one no producer holds`);
  return checked;
}

/** The rules every list of bearer tokens follows; a token given twice is kept once. */
function checkedTokens(name: string, tokens: readonly string[]): string[] {
  if (tokens.some((t) => t.length < 16)) throw new ConfigError(name, 'each token must be at least 16 characters');
  // As reviewer tokens: `Authorization: Bearer <token>` carries one run of non-space characters,
  // so a token holding whitespace could never be presented.
  const spaced = tokens.findIndex((t) => /\s/.test(t));
  if (spaced >= 0) throw new ConfigError(name, `token ${spaced + 1} of ${tokens.length} holds whitespace, which a Bearer header cannot carry; ${tokenRule}`);
  const foreign = tokens.findIndex((t) => !headerSafe.test(t));
  if (foreign >= 0) throw new ConfigError(name, `token ${foreign + 1} of ${tokens.length} holds a control character or one past U+00FF, which no client could present in a header; ${tokenRule}`);
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
    const match = new RegExp(`^([A-Za-z0-9_.@-]{1,64}):([${tokenCharacters}]{16,})$`).exec(entry);
    if (!match) throw new ConfigError(name, `entry ${index + 1} of ${entries.length} is not reviewer:token (a name of A–Z a–z 0–9 _ . @ -, and ${tokenRule})`);
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
