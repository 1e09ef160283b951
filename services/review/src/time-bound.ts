import { z } from 'zod';

// The listing's and the exports' `from`/`to` (both inclusive, on sampledAt), read from the text
// of a query parameter.

const dayMs = 24 * 3600 * 1000;
const isoDateTime = z.iso.datetime({ offset: true });
const isoDate = z.iso.date();

export const timeBoundForms =
  'expected an ISO date-time with Z or an offset (2026-01-02T00:00:00Z, 2026-01-02T00:00:00%2B02:00), a date meaning that UTC day (2026-01-02 or 20260102), or epoch ms (13 digits: 1767312000000)';

export type TimeBound = { readonly at: number } | { readonly refused: string };

const refused = (why: string): TimeBound => ({ refused: `${why}${timeBoundForms}` });

/**
 * A time bound: an ISO date-time with `Z` or an offset; a date, meaning that UTC day (its first
 * millisecond as `from`, its last as `to`), either ISO (`2026-01-02`) or compact (`20260102`, as a
 * user types it); or epoch ms, which has 13 digits for every time from 2001-09-09 to 2286-11-20.
 * Any other bare number is refused rather than guessed at: `20260102` was read as epoch ms before
 * (a window in 1970, answered 200), and so would a time in epoch seconds (10 digits) be. A
 * date-time without a zone is refused: whose local time it means is not known here.
 */
export function parseTimeBound(text: string, end: 'from' | 'to'): TimeBound {
  const day = (date: string) => ({ at: Date.parse(date) + (end === 'to' ? dayMs - 1 : 0) });
  if (isoDateTime.safeParse(text).success) return { at: Date.parse(text) };
  if (isoDate.safeParse(text).success) return day(text);
  if (/^\d{13}$/.test(text)) return { at: Number(text) };
  if (/^\d{8}$/.test(text)) {
    const date = `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6)}`;
    return isoDate.safeParse(date).success ? day(date) : refused(`${text} is not a date YYYYMMDD (${date} does not exist); `);
  }
  if (/^\d{10}$/.test(text)) {
    return refused(`${text} looks like epoch seconds (${new Date(Number(text) * 1000).toISOString()}); epoch ms has 13 digits: for that time send ${text}000; `);
  }
  if (/^-?\d+$/.test(text)) {
    return refused(`a bare number is a date as YYYYMMDD (8 digits) or epoch ms, and epoch ms has 13 digits (2001-09-09 to 2286-11-20): ${text} is neither; `);
  }
  // A `+` typed into a URL reads as a space once decoded, so `2026-01-02T00:00:00+02:00` pasted
  // into curl or a browser arrives as `2026-01-02T00:00:00 02:00`: that one is told to send `%2B`.
  if (/T[\d:.]+ \d{2}(:?\d{2})?$/.test(text)) return refused('a "+" in a URL reads as a space: send the offset as %2B (2026-01-02T00:00:00%2B02:00); ');
  if (/^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text)) return refused('a date-time without a zone is not taken (whose local time is not known here); ');
  return refused('');
}
