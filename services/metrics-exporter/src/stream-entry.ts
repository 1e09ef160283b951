import type { Redis } from 'ioredis';

export interface StreamEntry {
  readonly id: string;
  /** Its fields as QueueEvents reads them (the last of a repeated name wins). */
  readonly fields: Readonly<Record<string, string>>;
}

/**
 * The fields QueueEvents (bullmq 6.7, `consumeEvents`) passes through JSON.parse, by event. One
 * that does not parse throws out of its reading loop, which then ends for good: every later
 * event, also after a restart from a cursor before it, goes unread.
 */
const jsonFieldOf = new Map([
  ['completed', 'returnvalue'],
  ['progress', 'data'],
]);

/** The entry right after `id` in the stream at `key`, if any. */
export async function entryAfter(connection: Redis, key: string, id: string): Promise<StreamEntry | undefined> {
  const [entry] = await connection.xrange(key, `(${id}`, '+', 'COUNT', 1);
  if (entry === undefined) return undefined;
  const [entryId, flat] = entry;
  const fields: Record<string, string> = {};
  for (let at = 0; at + 1 < flat.length; at += 2) fields[flat[at] as string] = flat[at + 1] as string;
  return { id: entryId, fields };
}

/** The id of the newest entry of the stream at `key`, '0-0' when it has none: where '$' stands now. */
export async function newestEntryId(connection: Redis, key: string): Promise<string> {
  const [newest] = await connection.xrevrange(key, '+', '-', 'COUNT', 1);
  return newest?.[0] ?? '0-0';
}

/**
 * The id the stream at `key` numbers its entries after (XINFO STREAM's last-generated-id; kept when
 * entries are trimmed or deleted), undefined when there is no such stream.
 */
export async function lastGeneratedId(connection: Redis, key: string): Promise<string | undefined> {
  let info: unknown[];
  try {
    info = (await connection.xinfo('STREAM', key)) as unknown[];
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  const at = info.indexOf('last-generated-id');
  const id = at === -1 ? undefined : info[at + 1];
  return typeof id === 'string' ? id : undefined;
}

const streamIdParts = /^(\d+)-(\d+)$/;

/** Orders two stream ids (`ms-seq`, each up to 64 bits: compared as BigInt). */
export function compareStreamIds(a: string, b: string): number {
  const [, aMs = '0', aSeq = '0'] = streamIdParts.exec(a) ?? [];
  const [, bMs = '0', bSeq = '0'] = streamIdParts.exec(b) ?? [];
  const byMs = BigInt(aMs) - BigInt(bMs);
  const diff = byMs === 0n ? BigInt(aSeq) - BigInt(bSeq) : byMs;
  return diff === 0n ? 0 : diff > 0n ? 1 : -1;
}

/** Why QueueEvents cannot read `fields` (its loop ends on it), or undefined when it can. */
export function unparsableByQueueEvents(fields: Readonly<Record<string, string>>): string | undefined {
  const field = fields.event === undefined ? undefined : jsonFieldOf.get(fields.event);
  if (field === undefined) return undefined;
  try {
    // As QueueEvents does: a missing field is JSON.parse(undefined), which throws too.
    JSON.parse(String(fields[field]));
    return undefined;
  } catch {
    return `its ${field} is not JSON`;
  }
}

/** Enough of an entry to find what wrote it, not a whole job result in the log. */
export function excerptOf(fields: unknown, maxChars = 200): string {
  const text = JSON.stringify(fields) ?? String(fields);
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…`;
}
