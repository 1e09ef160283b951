import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.ts';

/**
 * The most keys, objects and arrays a JSON request body may hold (counted as the `:`, `{` and `[`
 * in its text, strings included). Parsing is synchronous: 64 MiB of `{"k1":0,"k2":0,…}` (five
 * million keys) held the event loop, every other request of the process with it, for 3.8 s on a
 * 2-core VM, and 64 MiB of `[[],[],…]` for 0.5 s. At this bound a body parses in about 150 ms;
 * a full ingest batch (1,000 records, each with its 32 metadata keys) counts under 60,000.
 */
export const maxJsonStructure = 200_000;

/** How many `:`, `{` and `[` `text` holds, counting no further than `limit + 1`. */
export function jsonStructureCount(text: string, limit: number): number {
  let count = 0;
  for (const mark of [':', '{', '[']) {
    // indexOf is a native scan: a 44 MB inline image (base64, none of the three) takes ~4 ms.
    for (let at = text.indexOf(mark); at !== -1; at = text.indexOf(mark, at + 1)) {
      if (++count > limit) return count;
    }
  }
  return count;
}

/**
 * Replaces Fastify's JSON body parser with the same parser (secure-json-parse, a `__proto__` or
 * `constructor.prototype` key refused) behind a bound on the body's structure: over `limit`, 400
 * `BODY_TOO_COMPLEX` before anything is parsed.
 */
export function registerBoundedJsonParser(app: FastifyInstance, limit = maxJsonStructure): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonStructureCount(text, limit) > limit) {
      done(new ApiError(400, 'BODY_TOO_COMPLEX', `the JSON body holds more than ${limit} keys, objects and arrays (counted as the ':', '{' and '[' in it); send fewer records per request`), undefined);
      return;
    }
    // Typed as maybe a promise; Fastify's parser answers through done and returns nothing.
    void parse(request, text, done);
  });
}
