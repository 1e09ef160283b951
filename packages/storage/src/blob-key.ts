import { StorageError } from './storage-error.ts';

/** S3's own limit on a key, in UTF-8 bytes. */
const maxKeyBytes = 1024;

function invalid(key: string, why: string): StorageError {
  return new StorageError('STORAGE_INVALID_KEY', `invalid storage key ${JSON.stringify(key)}: ${why}`, { key });
}

function checkCharacters(key: string): void {
  if (key.includes('\0')) throw invalid(key, 'contains NUL');
  if (key.includes('\\')) throw invalid(key, 'contains a backslash');
  if (key.startsWith('/')) throw invalid(key, 'is absolute');
  if (Buffer.byteLength(key) > maxKeyBytes) throw invalid(key, `is longer than ${maxKeyBytes} bytes`);
}

/**
 * Keys are S3-style relative paths ('a/b/c.json') that must map to exactly one file under the
 * filesystem store's root as well: no empty, '.' or '..' segment, no absolute path, backslash or
 * NUL. Checked by every store on every call, so no key can escape a store whatever its source.
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw invalid(String(key), 'is empty');
  checkCharacters(key);
  for (const segment of key.split('/')) {
    if (segment === '') throw invalid(key, 'has an empty segment (leading, trailing or double slash)');
    if (segment === '.' || segment === '..') throw invalid(key, `has a "${segment}" segment`);
  }
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
  for (const segment of segments) {
    if (segment === '') throw invalid(prefix, 'has an empty segment (leading or double slash)');
    if (segment === '.' || segment === '..') throw invalid(prefix, `has a "${segment}" segment`);
  }
  if (last === '.' || last === '..') throw invalid(prefix, `ends in "${last}"`);
}
