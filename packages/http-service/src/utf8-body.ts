import { isUtf8 } from 'node:buffer';
import { ApiError } from './api-error.ts';

/** The charsets a JSON body may declare: JSON is UTF-8 (RFC 8259 §8.1); `utf8` is the common misspelling every decoder takes. */
const utf8Names = new Set(['utf-8', 'utf8']);

/** The `charset` parameter of a Content-Type header, lower-cased and unquoted; undefined when there is none. */
export function declaredCharset(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i.exec(contentType ?? '');
  if (!match) return undefined;
  return (match[1] === undefined ? (match[2] ?? '') : match[1].replace(/\\(.)/g, '$1')).trim().toLowerCase();
}

/**
 * 415 `CHARSET_UNSUPPORTED` when the Content-Type declares a charset other than UTF-8: the body
 * was decoded as UTF-8 whatever it said, so a Latin-1 `ü` (byte 0xfc) was stored as U+FFFD and a
 * UTF-16 body was "not valid JSON". Undefined for UTF-8 or no charset.
 */
export function charsetRefusal(contentType: string | undefined, what: string): ApiError | undefined {
  const charset = declaredCharset(contentType);
  if (charset === undefined || utf8Names.has(charset)) return undefined;
  return new ApiError(415, 'CHARSET_UNSUPPORTED', `${what} must be UTF-8; got charset=${charset.slice(0, 40)}`);
}

// fatal: a byte sequence that is not UTF-8 throws instead of becoming U+FFFD. A leading byte-order
// mark (EF BB BF, as some editors save a file) is dropped, as JSON.parse would refuse it.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * `bytes` as text, when they are UTF-8 (a byte-order mark dropped); else 400 `BODY_NOT_UTF8`
 * naming the offset of the first byte that is not (a body decoded with replacement characters
 * would be stored altered without a word).
 */
export function utf8Text(bytes: Uint8Array, what: string): string | ApiError {
  try {
    return decoder.decode(bytes);
  } catch {
    return new ApiError(400, 'BODY_NOT_UTF8', `${what} is not valid UTF-8 (its first bad byte is at offset ${invalidUtf8Offset(bytes)}); send UTF-8`);
  }
}

/** How much of the bytes invalidUtf8Offset hands the native check at once, before it looks byte by byte. */
const window = 64 * 1024;

/**
 * The offset of the first byte of `bytes` that does not begin or continue a UTF-8 character, or
 * the length when they are all UTF-8. The native check (isUtf8) finds the window the fault is
 * in, at a few GB/s, and only that window is read byte by byte: a 64 MiB body bad at its end costs
 * milliseconds, not a JavaScript loop over all of it.
 */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + window, bytes.length);
    // A window ends before a character's first byte, never inside one (at most 3 continuation bytes).
    for (let back = 0; back < 3 && end < bytes.length && isContinuation(bytes[end] ?? 0); back++) end--;
    if (!isUtf8(bytes.subarray(start, end))) return scanUtf8(bytes, start, end);
    start = end;
  }
  return bytes.length;
}

const isContinuation = (byte: number) => (byte & 0xc0) === 0x80;

/** The offset of the first bad sequence in bytes[from, to), read byte by byte (Unicode's table 3-7 of well-formed sequences). */
function scanUtf8(bytes: Uint8Array, from: number, to: number): number {
  let at = from;
  while (at < to) {
    const lead = bytes[at] ?? 0;
    if (lead < 0x80) {
      at++;
      continue;
    }
    // The range of the second byte, and how many bytes follow the first, by the first.
    let second: [number, number];
    let follow: number;
    if (lead >= 0xc2 && lead <= 0xdf) [second, follow] = [[0x80, 0xbf], 1];
    else if (lead === 0xe0) [second, follow] = [[0xa0, 0xbf], 2];
    else if (lead === 0xed) [second, follow] = [[0x80, 0x9f], 2];
    else if (lead >= 0xe1 && lead <= 0xef) [second, follow] = [[0x80, 0xbf], 2];
    else if (lead === 0xf0) [second, follow] = [[0x90, 0xbf], 3];
    else if (lead >= 0xf1 && lead <= 0xf3) [second, follow] = [[0x80, 0xbf], 3];
    else if (lead === 0xf4) [second, follow] = [[0x80, 0x8f], 3];
    else return at;
    const next = bytes[at + 1];
    if (next === undefined || next < second[0] || next > second[1]) return at;
    for (let k = 2; k <= follow; k++) if (!isContinuation(bytes[at + k] ?? 0)) return at;
    at += follow + 1;
  }
  // The native check and this scan disagree (they should not): the window is as near as it gets.
  return from;
}
