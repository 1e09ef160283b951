import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, sendApiError } from './api-error.ts';
import { charsetRefusal } from './utf8-body.ts';

/** The body types a service may parse, in the order its refusals name them. */
const knownBodyTypes = ['application/json', 'multipart/form-data'];

/** Whether the request carries a body (as Fastify decides whether to parse one). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/** A header's value as the client sent it, for an answer that names it: never more than 100 characters. */
const quoted = (value: string) => JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);

/** 415 `MEDIA_TYPE_UNSUPPORTED`, naming what was sent and what the service parses. */
function mediaTypeUnsupported(request: FastifyRequest, accepted: readonly string[]): ApiError {
  const sent = request.headers['content-type'];
  const send = `send ${accepted.join(' or ')}`;
  if (sent === undefined) return new ApiError(415, 'MEDIA_TYPE_UNSUPPORTED', `the request has a body but no Content-Type; ${send}`);
  const mediaType = request.mediaType ?? sent;
  return new ApiError(415, 'MEDIA_TYPE_UNSUPPORTED', `this service does not take Content-Type ${quoted(mediaType)}; ${send}`);
}

/**
 * Refuses, in the services' error shape and before reading it, a body the service cannot take:
 *
 * - one whose Content-Type no parser takes, or none, is 415 `MEDIA_TYPE_UNSUPPORTED` naming the type
 *   sent and the types the service parses (`send application/json or multipart/form-data`), instead
 *   of Fastify's `REQUEST_INVALID` "Unsupported Media Type", which named neither. Fastify's own
 *   text/plain parser is removed (no service takes text: it handed routes a string, which ingest
 *   then called "expected object, received string").
 * - one with a Content-Encoding other than identity (gzip, br, …) is 415
 *   `CONTENT_ENCODING_UNSUPPORTED` with `Accept-Encoding: identity` (RFC 7694): it was handed to the
 *   parser compressed ("Body is not valid JSON"). Nothing is decompressed: a small compressed body
 *   can inflate past any body limit.
 *
 * - a JSON body declaring a charset other than UTF-8 is 415 `CHARSET_UNSUPPORTED` here, before it
 *   is read (the JSON parser checks it too, for a service without these refusals).
 *
 * All after the route's onRequest hooks (a client without a token is told that first). An empty
 * body is no body, whatever its declared type. A refusal returns the reply: Fastify stops the
 * request only once the answer is sent, which an async onSend hook would delay past this hook's
 * return, and the route would then read the body and run.
 */
export function registerBodyRefusals(app: FastifyInstance): void {
  // Read at the first request: plugins registered after registerServiceDefaults (multipart) count.
  const accepted = () => knownBodyTypes.filter((type) => app.hasContentTypeParser(type));
  app.removeContentTypeParser('text/plain');
  // The parser of every type no other parser takes: it answers without reading the body.
  app.addContentTypeParser('*', (request, _payload, done) => {
    if (request.is404 || !hasBody(request.headers)) done(null, undefined);
    else done(mediaTypeUnsupported(request, accepted()), undefined);
  });
  app.addHook('preParsing', async (request, reply, payload) => {
    if (request.is404 || !hasBody(request.headers)) return payload;
    const refusal = bodyRefusal(request, accepted);
    if (refusal === undefined) return payload;
    if (refusal.code === 'CONTENT_ENCODING_UNSUPPORTED') void reply.header('accept-encoding', 'identity');
    void sendApiError(reply, refusal);
    return reply;
  });
}

/** What registerBodyRefusals answers before the body is read, if anything. */
function bodyRefusal(request: FastifyRequest, accepted: () => readonly string[]): ApiError | undefined {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return new ApiError(415, 'CONTENT_ENCODING_UNSUPPORTED', `the body was sent with Content-Encoding ${quoted(encoding)}; send it uncompressed, without Content-Encoding`);
  }
  // Not even type/subtype: Fastify refuses it before any parser, and its error names nothing.
  if (request.headers['content-type'] !== undefined && request.mediaType === undefined) return mediaTypeUnsupported(request, accepted());
  if (request.mediaType === 'application/json') return charsetRefusal(request.headers['content-type'], 'JSON bodies');
  return undefined;
}
