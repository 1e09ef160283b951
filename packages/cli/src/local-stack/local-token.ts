import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';

/**
 * What the services accept as a token, in GRADCAM_API_TOKENS and GRADCAM_REVIEW_TOKENS alike: 16
 * or more characters, none of them whitespace (a Bearer header cannot carry it) or a comma (it
 * separates tokens).
 */
const usableToken = /^[^\s,]{16,}$/;

/**
 * A token kept in `file` (in the state folder), so it survives restarts of the local stack; one is
 * generated when the file is missing. A file whose content the services would refuse (emptied by
 * a full disk, edited by hand) is replaced too, with `onReplaced` told why: the user never set a
 * token, so an error naming GRADCAM_API_TOKENS would send them looking in the wrong place, and
 * nobody can hold a token the services refuse.
 */
export async function localToken(file: string, onReplaced?: (message: string) => void): Promise<string> {
  const kept = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (kept !== undefined && usableToken.test(kept)) return kept;
  const token = `local-${randomBytes(24).toString('base64url')}`;
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  // writeFile's mode applies only to a file it creates; the one replaced may have been readable by all.
  await chmod(file, 0o600);
  // The old content is not shown: it may be most of a secret.
  if (kept !== undefined) onReplaced?.(`${file} held no usable token (${kept === '' ? 'it was empty' : 'under 16 characters, or with a space or comma'}); wrote a new one`);
  return token;
}
