import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { usableTokenPattern } from '@gradcam/config';

/** What the services accept as a token, less the comma that separates tokens in a list. */
const usableToken = (token: string) => usableTokenPattern.test(token) && !token.includes(',');

/**
 * A token kept in `file` (in the state folder), so it survives restarts of the local stack; one is
 * generated when the file is missing. A file whose content the services would refuse (emptied by
 * a full disk, edited by hand) is replaced too, with `onReplaced` told why: the user never set a
 * token, so an error naming GRADCAM_API_TOKENS would send them looking in the wrong place, and
 * nobody can hold a token the services refuse. So is one among `taken` (the erase token copied
 * from api-token by hand: ingest refuses an erase token that is also an API token).
 */
export async function localToken(file: string, onReplaced?: (message: string) => void, taken: readonly string[] = []): Promise<string> {
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (kept !== undefined && usableToken(kept) && !taken.includes(kept)) return kept;
  const token = `local-${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a file it creates; the one replaced may have been readable by all.
  await chmod(file, 0o600);
  // The old content is not shown: it may be most of a secret.
  if (kept !== undefined) onReplaced?.(`${file} held no usable token (${whyUnusable(kept)}); wrote a new one`);
  return token;
}

function whyUnusable(kept: string): string {
  if (kept === '') return 'it was empty';
  if (usableToken(kept)) return 'it was also an API token, and erasure takes a token of its own';
  return 'under 16 characters, or with a space, a comma or a character a header cannot carry';
}
