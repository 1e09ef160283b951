import { reviewItemSchema, verdictSchema } from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseTimeBound } from './time-bound.ts';

// The query parameters of the review API's GET routes.

/**
 * A whole number in decimal digits, with an optional leading minus, and nothing else: z.coerce
 * took `0x10`, `1e3`, `+5` and ` 5` (as 16, 1000, 5 and 5), and made 0 of whitespace.
 */
const integerParam = z
  .string()
  .regex(/^-?\d+$/, 'expected a whole number in decimal digits')
  .transform(Number)
  .pipe(z.number().int());
/** `from`/`to`: see parseTimeBound for the forms taken; a refusal says which those are. */
const timeBound = (end: 'from' | 'to') =>
  z.string().transform((text, context) => {
    const bound = parseTimeBound(text, end);
    if ('at' in bound) return bound.at;
    context.addIssue({ code: 'custom', message: bound.refused });
    return z.NEVER;
  });

/** A parameter's name as a refusal quotes it: the client chose it, and it may be long. */
const quotedName = (name: string) => JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);

/**
 * A route's query as its schema (`schema`, an object of the parameters it takes) reads it. A
 * parameter that is empty or only whitespace (a form's empty field, `?to=%20`) means "not given",
 * not 0 (what z.coerce made of it). A parameter given twice (`?limit=5&limit=6`, which the query
 * parser makes an array) is refused by name: which one was meant is not known. A parameter the
 * route does not take is refused by name, with those it takes: a misspelt filter (`?stauts=broken`,
 * `?status[]=broken`) was dropped unseen, and the listing or export answered with every item.
 */
export function queryOf(request: FastifyRequest, schema: z.ZodObject): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  const taken = Object.keys(schema.shape);
  for (const [name, value] of Object.entries(request.query as Record<string, unknown>)) {
    if (!taken.includes(name)) {
      const path = request.url.split('?')[0] ?? '';
      throw new ApiError(400, 'REQUEST_INVALID', `unknown query parameter ${quotedName(name)}: ${request.method} ${path} takes ${taken.join(', ')}; nothing was done`);
    }
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
