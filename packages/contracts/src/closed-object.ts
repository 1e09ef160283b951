import { z } from 'zod';

/** A key the client chose may be megabytes long: a message quotes this much of it. */
const maxQuotedChars = 64;
/** Unknown keys a message names one by one; the rest are counted. */
const maxNamedKeys = 3;

const quote = (key: string) => JSON.stringify(key.length > maxQuotedChars ? `${key.slice(0, maxQuotedChars)}…` : key);

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, or `limit + 1` once past `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      let cost = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cost = Math.min(cost, (before[j - 2] as number) + 1);
      current.push(cost);
    }
    if (Math.min(...current) > limit) return limit + 1;
    before = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/** The known key `key` is most likely a misspelling of (case aside, within two edits; one for short keys), if any. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  if (key.length > maxQuotedChars) return undefined;
  const lower = key.toLowerCase();
  const limit = lower.length <= 3 ? 1 : 2;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase(), limit);
    if (distance <= limit && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** `unknown key "explian" (did you mean "explain"?)`, for up to three keys, the rest counted. */
export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const named = keys.slice(0, maxNamedKeys).map((key) => {
    const near = closestKey(key, known);
    return near === undefined ? quote(key) : `${quote(key)} (did you mean ${quote(near)}?)`;
  });
  const more = keys.length > maxNamedKeys ? ` and ${keys.length - maxNamedKeys} more` : '';
  return `unknown ${keys.length === 1 ? 'key' : 'keys'} ${named.join(', ')}${more}`;
}

/**
 * An object that refuses keys it does not know, naming them (a misspelt `explian` would
 * otherwise be dropped without a word, and the record accepted without what it asked for). For
 * what a client sends only: what one version of the pipeline writes for another to read (jobs,
 * stored documents) stays open, so a newer producer's added field never fails an older reader.
 */
export function closedObject<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, known) : undefined) });
}
