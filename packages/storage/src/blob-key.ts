import { StorageError } from './storage-error.ts';
import { partialName } from './temporary-name.mjs';

/** S3's own limit on a key, in UTF-8 bytes. */
const maxKeyBytes = 1024;
/**
 * The longest segment (folder or file name), in UTF-8 bytes. Filesystems allow 255 per name and
 * the filesystem store's temporary file adds 26 (`.<name>.<16 hex>.partial`), so a longer name
 * would be a key S3 takes and the filesystem store cannot; 200 leaves room.
 */
export const maxSegmentBytes = 200;

/** A UTF-16 code unit that is half of a surrogate pair without its other half. */
const loneSurrogate = /\p{Cs}/u;
/**
 * C0 and C1 control characters (and DEL). S3's XML listings do not give them back as stored
 * ('\r' comes back as '\n'), and on disk they make names no one can type.
 */
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;

function invalid(key: string, why: string): StorageError {
  return new StorageError('STORAGE_INVALID_KEY', `invalid storage key ${JSON.stringify(key)}: ${why}`, { key });
}

function checkCharacters(key: string): void {
  if (key.includes('\0')) throw invalid(key, 'contains NUL');
  if (controlCharacter.test(key)) throw invalid(key, 'contains a control character');
  // Not UTF-8: S3's SDK cannot encode it (URIError), and the filesystem turns every lone
  // surrogate into U+FFFD, so 'a\uD800', 'a\uDBFF' and 'a\uFFFD' would be one file.
  if (loneSurrogate.test(key)) throw invalid(key, 'is not well-formed Unicode (a lone surrogate)');
  if (key.includes('\\')) throw invalid(key, 'contains a backslash');
  if (key.startsWith('/')) throw invalid(key, 'is absolute');
  if (Buffer.byteLength(key) > maxKeyBytes) throw invalid(key, `is longer than ${maxKeyBytes} bytes`);
}

/** The rules every folder or file name of a key follows. */
function checkSegment(key: string, segment: string): void {
  if (segment === '') throw invalid(key, 'has an empty segment (leading, trailing or double slash)');
  if (segment === '.' || segment === '..') throw invalid(key, `has a "${segment}" segment`);
  if (Buffer.byteLength(segment) > maxSegmentBytes) throw invalid(key, `has a segment longer than ${maxSegmentBytes} bytes`);
  if (partialName.test(segment)) throw invalid(key, 'has a segment named like the filesystem store\'s temporary files (".x.<16 hex>.partial")');
}

/**
 * Keys are S3-style relative paths ('a/b/c.json') that must map to exactly one file under the
 * filesystem store's root as well: no empty, '.' or '..' segment, no absolute path, backslash,
 * NUL, other control character or lone surrogate, no segment over 200 bytes or named like a
 * temporary file. Checked by every store on every call, so no key can escape a store whatever its
 * source, and a key one store takes the other takes too.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw invalid(String(key), 'is empty');
  checkCharacters(key);
  for (const segment of key.split('/')) checkSegment(key, segment);
}

/**
 * A listing prefix: '' (everything), a folder ('a/b/') or a partial name ('a/b/inp'). The
 * folders before the last '/' follow the key rules; the part after it is only a name filter.
 */
export function assertValidPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw invalid(String(prefix), 'is not a string');
  if (prefix === '') return;
  checkCharacters(prefix);
  const segments = prefix.split('/');
  const last = segments.pop() ?? '';
  for (const segment of segments) checkSegment(prefix, segment);
  if (last === '.' || last === '..') throw invalid(prefix, `ends in "${last}"`);
}
