import { type ReviewItem, reviewItemSchema } from '@gradcam/contracts';
import { itemStateFields, type PoolLane } from './item-lua.ts';
import { ReviewPoolError } from './review-pool-error.ts';

/** An item as stored (see item-lua.ts): its fixed part, written once by `add`, and its state. */
export interface StoredItem {
  readonly fixed: string;
  readonly state: string;
}

const stateFields: ReadonlySet<string> = new Set(itemStateFields);

/**
 * An item to store: its fixed part (never rewritten: every digit of its numbers stays) and its
 * state, which also holds the lane it waits in (pool-order.ts).
 */
export function storedItem(item: ReviewItem, lane: PoolLane): StoredItem {
  const entries = Object.entries(reviewItemSchema.parse(item));
  return {
    fixed: JSON.stringify(Object.fromEntries(entries.filter(([field]) => !stateFields.has(field)))),
    state: JSON.stringify({ ...Object.fromEntries(entries.filter(([field]) => stateFields.has(field))), lane }),
  };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseObject(raw: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(raw) as unknown;
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A stored item, or why it is not one (not JSON, or failing the schema), or `gone`: a fixed part
 * without its state is an item whose keys are expiring (its fixed part expires first), unless it
 * holds a `status` (an item stored whole, before the state had its own key: read as it is).
 */
export function readItem(fixed: string, state: string | null): { item: ReviewItem } | { problem: string } | { gone: true } {
  const fixedPart = parseObject(fixed);
  if (!fixedPart) return { problem: 'not JSON' };
  let value: Record<string, unknown> = fixedPart;
  if (state === null) {
    if (!('status' in fixedPart)) return { gone: true };
  } else {
    const statePart = parseObject(state);
    if (!statePart) return { problem: 'state: not JSON' };
    value = { ...Object.fromEntries(Object.entries(fixedPart).filter(([field]) => !stateFields.has(field))), ...statePart };
    // The explanation shown counts for the verdict it was kept with only (see finishVerdictScript).
    if (isObject(statePart.shown) && statePart.shown.verdictId !== statePart.verdictId) delete value.shown;
  }
  const parsed = reviewItemSchema.safeParse(value);
  if (parsed.success) return { item: parsed.data };
  const issue = parsed.error.issues[0];
  return { problem: `${issue?.path.join('.') || 'item'}: ${issue?.message ?? 'invalid'}` };
}

/**
 * A stored item the caller asked for by id: one that fails its schema is REVIEW_ITEM_INVALID
 * (stored data, not the request); `undefined` when it is gone (expiring).
 */
export function parseItem(fixed: string, state: string | null): ReviewItem | undefined {
  const read = readItem(fixed, state);
  if ('item' in read) return read.item;
  if ('gone' in read) return undefined;
  const id = /"inferenceId":"([A-Za-z0-9_-]{1,128})"/.exec(fixed)?.[1] ?? 'unknown';
  throw new ReviewPoolError('REVIEW_ITEM_INVALID', `the stored review item "${id}" is invalid (${read.problem}); an operator must repair or remove it`);
}

/** A script's answer about an item it found and changed: never gone (the script read it whole). */
export function scriptItem([fixed, state]: readonly [string, string]): ReviewItem {
  const item = parseItem(fixed, state);
  if (!item) throw new ReviewPoolError('REVIEW_ITEM_INVALID', 'a review pool script answered an item without its state');
  return item;
}
