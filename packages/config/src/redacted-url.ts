/**
 * A URL as a message may print it: the password (`redis://:secret@host`) becomes `***`, the rest
 * stays as written (not normalised, so the user recognises their own value). Works on strings no
 * URL parser accepts too, since those are the ones error messages quote. Without a `:` in the
 * user part, the whole of it is hidden: `redis://secret@host` is how some clients take a password.
 */
export function redactedUrl(raw: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/*/.exec(raw)?.[0] ?? '';
  // The last `@`: a password may hold an unencoded one, and parsers read up to the last.
  const at = raw.lastIndexOf('@');
  if (at < scheme.length) return raw;
  const userInfo = raw.slice(scheme.length, at);
  const colon = userInfo.indexOf(':');
  const user = colon < 0 ? '' : userInfo.slice(0, colon + 1);
  return `${scheme}${user}***${raw.slice(at)}`;
}
