import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error.ts';
import { charsetRefusal, utf8Text } from './utf8-body.ts';

/**
 * The most a JSON request body may hold: keys, objects and arrays (its `:`, `{` and `[` outside
 * strings), and strings. Parsing is synchronous: 64 MiB of `{"k1":0,"k2":0,…}` (five million keys),
 * of `[[],[],…]` or of short strings held the event loop, every other request of the process with
 * it, for seconds on a 2-core VM (`npm run bench:json-bound`; the figures are in the ingest
 * README, so they are stated once). At these bounds a body
 * parses in about 150 ms; a full ingest batch (1,000 records, each with its 32 metadata keys and
 * values) counts under 60,000 structures and 100,000 strings. Numbers, `true`, `false` and `null`
 * are not bounded: 64 MiB of them parses in under a second, like a batch of records with long scores.
 */
export const jsonBounds: Readonly<JsonCounts> = { structures: 200_000, strings: 500_000 };

/** What a JSON text holds (jsonCounts), and the bounds on it (jsonBounds). */
export interface JsonCounts {
  /** Keys, objects and arrays: the `:`, `{` and `[` outside strings. */
  structures: number;
  strings: number;
}

const colon = 58;
const openBrace = 123;
const openBracket = 91;
const backslash = 92;

/** Whether the quote at `at` is escaped: an odd number of backslashes before it. */
function escapedAt(text: string, at: number): boolean {
  let before = at - 1;
  while (before >= 0 && text.charCodeAt(before) === backslash) before--;
  return (at - 1 - before) % 2 === 1;
}

/**
 * What `text` holds (JsonCounts), counting no further than one past either bound. A colon in a
 * string (a metadata value, a MAC address) costs the parser nothing and is not counted. Strings
 * are skipped with indexOf, a native scan: a 44 MB inline image (one base64 string) takes a few
 * ms. Malformed JSON (a string never closed) is counted as far as it goes; the parser then
 * refuses it.
 */
export function jsonCounts(text: string, bounds: Readonly<JsonCounts> = jsonBounds): JsonCounts {
  const counts = { structures: 0, strings: 0 };
  let at = 0;
  while (at < text.length) {
    const quote = text.indexOf('"', at);
    const stop = quote === -1 ? text.length : quote;
    for (let i = at; i < stop; i++) {
      const code = text.charCodeAt(i);
      if ((code === colon || code === openBrace || code === openBracket) && ++counts.structures > bounds.structures) return counts;
    }
    if (quote === -1 || ++counts.strings > bounds.strings) break;
    let close = text.indexOf('"', quote + 1);
    while (close !== -1 && escapedAt(text, close)) close = text.indexOf('"', close + 1);
    if (close === -1) break;
    at = close + 1;
  }
  return counts;
}

/**
 * The route `config` of a route that takes no body, or may go without one
 * (`app.post(path, { config: bodyOptional }, …)`): there an empty body declared `application/json`
 * is no body, as an empty body of any other type is (registerBodyRefusals), where Fastify's parser
 * refused it 400 "Body cannot be empty when content-type is set to 'application/json'". A client
 * that sends `Content-Type: application/json` with every request (a session's default headers;
 * Python requests then sends `Content-Length: 0` on a POST or DELETE without data) was refused on
 * every such route. A route that needs a body keeps that answer.
 */
export const bodyOptional = { emptyJsonIsNoBody: true } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by bodyOptional: an empty JSON body is no body on this route. */
    emptyJsonIsNoBody?: boolean;
  }
}

/**
 * Replaces Fastify's JSON body parser with the same parser (secure-json-parse, a `__proto__` or
 * `constructor.prototype` key refused: 400 `REQUEST_INVALID` naming the key, where Fastify said
 * the body was not valid JSON) behind bounds on what the body holds (jsonBounds): over one, 400
 * `BODY_TOO_COMPLEX` before anything is parsed (not 413: the body is not too large, and a client
 * that halves a batch on 413 would send the same dense record again). The body must be UTF-8
 * (utf8Text): a Content-Type naming another charset is 415 `CHARSET_UNSUPPORTED`, bytes that are
 * not UTF-8 400 `BODY_NOT_UTF8`, where Fastify's parser turned them into U+FFFD without a word.
 */
export function registerBoundedJsonParser(app: FastifyInstance, bounds: Readonly<JsonCounts> = jsonBounds): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    if ((body as Buffer).length === 0 && request.routeOptions.config.emptyJsonIsNoBody === true) {
      done(null, undefined);
      return;
    }
    const text = charsetRefusal(request.headers['content-type'], 'JSON bodies') ?? utf8Text(body as Buffer, 'the JSON body');
    if (text instanceof ApiError) {
      done(text, undefined);
      return;
    }
    const counts = jsonCounts(text, bounds);
    const over = counts.structures > bounds.structures ? `${bounds.structures} keys, objects and arrays` : counts.strings > bounds.strings ? `${bounds.strings} strings` : undefined;
    if (over !== undefined) {
      done(new ApiError(400, 'BODY_TOO_COMPLEX', `the JSON body holds more than ${over}; send fewer records per request`), undefined);
      return;
    }
    // Typed as maybe a promise; Fastify's parser answers through done and returns nothing.
    void parse(request, text, (error, body) => done(error === null ? null : (forbiddenKeyRefusal(text) ?? malformedRefusal(text) ?? error), body));
  });
}

/**
 * Why a body Fastify's parser refused is refused, when it is valid JSON: it holds a key
 * secure-json-parse refuses (prototype poisoning), which Fastify answers "Body is not valid JSON"
 * as if the client had sent broken JSON. Said as ingest says it of a multipart record. Undefined
 * for JSON that is malformed (the parser's own answer stands). Run only on a refused body.
 */
function forbiddenKeyRefusal(text: string): ApiError | undefined {
  let value: unknown;
  try {
    // A byte-order mark is no part of the JSON (secure-json-parse drops it too).
    value = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch {
    return undefined;
  }
  const key = forbiddenKey(value);
  return key === undefined ? undefined : new ApiError(400, 'REQUEST_INVALID', `the JSON body may not hold ${key} (prototype poisoning); leave it out`);
}

/**
 * Why a body Fastify's parser refused is not JSON, in the parser's words with where it stopped
 * ("Unexpected end of JSON input", "… at position 10"): Fastify says only "Body is not valid
 * JSON", which leaves a client with a hand-written body to find the fault alone. Undefined for an
 * empty body (Fastify's own answer says it is empty) and for JSON that parses.
 */
function malformedRefusal(text: string): ApiError | undefined {
  const json = text.startsWith('\uFEFF') ? text.slice(1) : text;
  if (json.trim() === '') return undefined;
  try {
    JSON.parse(json);
    return undefined;
  } catch (error) {
    return new ApiError(400, 'REQUEST_INVALID', `the body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The first key secure-json-parse refuses in `value`, as the refusal names it. */
function forbiddenKey(value: unknown): string | undefined {
  const own = (object: object, key: string) => Object.prototype.hasOwnProperty.call(object, key);
  let proto = false;
  let constructor = false;
  const pending: unknown[] = [value];
  // Bounded: the body passed jsonBounds before it was parsed.
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object') continue;
    if (own(node, '__proto__')) proto = true;
    const held = (node as { constructor?: unknown }).constructor;
    if (own(node, 'constructor') && held !== null && typeof held === 'object' && own(held, 'prototype')) constructor = true;
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') pending.push(child);
  }
  if (proto) return 'a "__proto__" key';
  return constructor ? 'a "constructor" key holding "prototype"' : undefined;
}
