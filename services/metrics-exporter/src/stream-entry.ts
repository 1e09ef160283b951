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

/** What XINFO STREAM says of a stream that the read position is checked against. */
export interface StreamInfo {
  /** The id it numbers its entries after (kept when entries are trimmed or deleted). */
  readonly lastGeneratedId: string;
  readonly length: number;
  /** Redis 7: how many entries were ever added to it, whether still there or not. */
  readonly entriesAdded?: number;
  /** Redis 7: the highest id XDEL took out of it (trimming does not count). */
  readonly maxDeletedEntryId?: string;
  /** Redis 7: the id of its first entry ('0-0' when empty). */
  readonly recordedFirstEntryId?: string;
}

/** XINFO STREAM of the stream at `key`, undefined when there is no such stream. */
export async function streamInfo(connection: Redis, key: string): Promise<StreamInfo | undefined> {
  let info: unknown[];
  try {
    info = (await connection.xinfo('STREAM', key)) as unknown[];
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  const field = (name: string) => {
    const at = info.indexOf(name);
    return at === -1 ? undefined : info[at + 1];
  };
  const text = (name: string) => {
    const value = field(name);
    return typeof value === 'string' ? value : undefined;
  };
  const count = (name: string) => {
    const value = field(name);
    return typeof value === 'number' ? value : undefined;
  };
  const lastGeneratedId = text('last-generated-id');
  if (lastGeneratedId === undefined) return undefined;
  const entriesAdded = count('entries-added');
  const maxDeletedEntryId = text('max-deleted-entry-id');
  const recordedFirstEntryId = text('recorded-first-entry-id');
  return {
    lastGeneratedId,
    length: count('length') ?? 0,
    ...(entriesAdded !== undefined && { entriesAdded }),
    ...(maxDeletedEntryId !== undefined && { maxDeletedEntryId }),
    ...(recordedFirstEntryId !== undefined && { recordedFirstEntryId }),
  };
}

/**
 * Whether a stream that no longer holds entry `id` lost it some other way than trimming or XDEL:
 * it was deleted and written again, or Redis lost data (restarted from an older or an empty
 * dataset, a failover to a replica behind). Not deleted: above its highest id deleted. Not trimmed
 * (trimming takes the oldest only, and does not move that id): at or after its first entry, or it
 * never dropped an entry at all. Undefined where Redis does not say (before 7.0).
 */
export function lostUntrimmed(info: StreamInfo, id: string): boolean | undefined {
  const { entriesAdded, maxDeletedEntryId, recordedFirstEntryId, length } = info;
  if (entriesAdded === undefined || maxDeletedEntryId === undefined || recordedFirstEntryId === undefined) return undefined;
  if (compareStreamIds(id, maxDeletedEntryId) <= 0) return false;
  return (length > 0 && compareStreamIds(id, recordedFirstEntryId) >= 0) || entriesAdded === length;
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
