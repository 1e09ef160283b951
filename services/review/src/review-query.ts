import { reviewItemSchema, verdictSchema } from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

// The query parameters of the review API's GET routes.

const dayMs = 24 * 3600 * 1000;
/**
 * A whole number in decimal digits, with an optional leading minus, and nothing else: z.coerce
 * took `0x10`, `1e3`, `+5` and ` 5` (as 16, 1000, 5 and 5), and made 0 of whitespace.
 */
const integerParam = z
  .string()
  .regex(/^-?\d+$/, 'expected a whole number in decimal digits')
  .transform(Number)
  .pipe(z.number().int());
/**
 * `from`/`to` (both inclusive, on sampledAt): epoch ms, an ISO date-time with `Z` or an offset
 * (`+02:00`), or a bare ISO date, which means that UTC day: its first millisecond as `from`, its
 * last as `to`, so `from=2026-01-01&to=2026-01-31` is the whole of January. A date-time without
 * a zone is refused: whose local time it means is not known here.
 */
const timeBound = (end: 'from' | 'to') =>
  z.union(
    [
      z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
      z.iso.date().transform((s) => Date.parse(s) + (end === 'to' ? dayMs - 1 : 0)),
      integerParam,
    ],
    { error: (issue) => timeBoundRefusal(issue.input) },
  );

/**
 * Why a from/to was refused, and what is taken. A `+` typed into a URL reads as a space once
 * decoded, so `2026-01-02T00:00:00+02:00` pasted into curl or a browser arrives as
 * `2026-01-02T00:00:00 02:00`: that one is told to send `%2B` (zod alone said "Invalid input").
 */
function timeBoundRefusal(input: unknown): string {
  const text = typeof input === 'string' ? input : '';
  const why = /T[\d:.]+ \d{2}(:?\d{2})?$/.test(text)
    ? 'a "+" in a URL reads as a space: send the offset as %2B (2026-01-02T00:00:00%2B02:00); '
    : /^\d{4}-\d{2}-\d{2}T[\d:.]+$/.test(text)
      ? 'a date-time without a zone is not taken (whose local time is not known here); '
      : '';
  return `${why}expected epoch ms, an ISO date-time with Z or an offset (2026-01-02T00:00:00Z, 2026-01-02T00:00:00%2B02:00) or a bare date, meaning that UTC day (2026-01-02)`;
}

/**
 * A route's query as its schema reads it. A parameter that is empty or only whitespace (a form's
 * empty field, `?to=%20`) means "not given", not 0 (what z.coerce made of it). A parameter given
 * twice (`?limit=5&limit=6`, which the query parser makes an array) is refused by name: which one
 * was meant is not known.
 */
export function queryOf(request: FastifyRequest): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.query as Record<string, unknown>)) {
    if (Array.isArray(value)) throw new ApiError(400, 'REQUEST_INVALID', `${name}: give ${name} once`);
    if (typeof value === 'string' && value.trim() === '') continue;
    given[name] = value;
  }
  return given;
}

/** `?model=` of /next and /backlog. */
export const modelQuerySchema = z.object({ model: z.string().max(64).optional() });

/** The listing's and the exports' parameters; `limit` is 50 when not given (format=json only). */
export const listQuerySchema = z.object({
  status: reviewItemSchema.shape.status.optional(),
  model: z.string().max(64).optional(),
  verdict: verdictSchema.optional(),
  from: timeBound('from').optional(),
  to: timeBound('to').optional(),
  cursor: z.string().max(200).optional(),
  limit: integerParam.pipe(z.number().min(1).max(1000)).optional(),
  format: z.enum(['json', 'jsonl', 'csv']).default('json'),
});
