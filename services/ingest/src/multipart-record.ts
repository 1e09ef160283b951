import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ApiError, utf8Text } from '@gradcam/http-service';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { scan } from 'secure-json-parse';
import { maxImageBytes } from './inline-image.ts';

/**
 * The largest `record` part, as a field or a file (busboy's own default for a field): a record
 * without its image is far smaller (32 metadata keys of 1 KiB, 10,000 scores).
 */
export const maxRecordPartBytes = 1024 * 1024;
// Two files: the image, and the record when the client sends it as one (a Blob in FormData always
// is, with filename="blob"; so are Python requests' `files=` and curl's `-F record=@record.json`).
const limits = { files: 2, fields: 4, fieldSize: maxRecordPartBytes };

const multipartInvalid = (message: string) => new ApiError(400, 'MULTIPART_INVALID', message);
/** What secure-json-parse refuses, as Fastify's JSON body parser does (prototype poisoning). */
const forbiddenKeys = 'a "__proto__" key or a "constructor" key holding "prototype"';
const recordTooLarge = () => multipartInvalid(`the "record" part is over ${maxRecordPartBytes} bytes (1 MiB); a record is small: send the image as the "image" file`);
const imageTooLarge = () => new ApiError(413, 'IMAGE_TOO_LARGE', `images are limited to ${maxImageBytes} bytes`);
const bodyTooLarge = (maxBodyBytes: number) => new ApiError(413, 'BODY_TOO_LARGE', `the request body exceeds ${maxBodyBytes} bytes`);

/**
 * The file-size limit of an upload, and what exceeding it means: the image limit when it is the
 * smaller one (the image alone is too large), else the body limit (the whole request is).
 */
function fileLimit(maxBodyBytes: number): { fileSize: number; tooLarge: () => ApiError } {
  return maxImageBytes <= maxBodyBytes ? { fileSize: maxImageBytes, tooLarge: imageTooLarge } : { fileSize: maxBodyBytes, tooLarge: () => bodyTooLarge(maxBodyBytes) };
}

/** States an error of @fastify/multipart or busboy: every one is about this upload, none about the service. */
function uploadError(error: unknown, maxBodyBytes: number): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return fileLimit(maxBodyBytes).tooLarge();
  if (code === 'FST_FILES_LIMIT') return multipartInvalid(`multipart uploads hold at most ${limits.files} files: the "image", and the "record" when it is sent as a file`);
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return multipartInvalid(`multipart uploads hold a "record" field and an "image" file (at most ${limits.fields} fields)`);
  }
  // @fastify/multipart parses a field sent as application/json itself, and drops one that fails.
  // It parses with secure-json-parse, so a forbidden key (see recordOf) is refused there too.
  if (code === 'FST_INVALID_JSON_FIELD_ERROR') return multipartInvalid(`a field sent as application/json (the "record") is not valid JSON, is over ${maxRecordPartBytes} bytes (1 MiB), or holds ${forbiddenKeys}`);
  return multipartInvalid(`the multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * The record part's value: text to parse (a plain field, or a file), or already an object when a
 * field was sent as `Content-Type: application/json` (curl -F 'record=…;type=application/json'),
 * which @fastify/multipart parses itself. A "__proto__" key (or constructor.prototype) is
 * refused, as Fastify's JSON body parser (secure-json-parse) refuses it: plain JSON.parse kept it,
 * and the record schema then dropped it from an accepted record's metadata without a word. The
 * image is the file part: a record naming its own was accepted with it silently replaced.
 */
function recordOf(value: unknown): Record<string, unknown> {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      // A byte-order mark, as some editors save a record.json, is no part of the JSON.
      parsed = JSON.parse(value.startsWith('\uFEFF') ? value.slice(1) : value);
    } catch {
      throw multipartInvalid('the "record" field is not valid JSON');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw multipartInvalid('the "record" field must hold a JSON object');
  try {
    scan(parsed, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw multipartInvalid(`the "record" field may not hold ${forbiddenKeys}`);
  }
  if (Object.hasOwn(parsed, 'image')) throw multipartInvalid('in a multipart upload the image is the file part; leave "image" out of the record');
  return parsed as Record<string, unknown>;
}

/**
 * A `record` sent as a file, as text, refused as soon as it passes maxRecordPartBytes, and when
 * it is not UTF-8 (400 BODY_NOT_UTF8, as a JSON body): decoded with replacement characters, a
 * Latin-1 `ü` was stored as U+FFFD without a word.
 */
async function recordFileText(file: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of file as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > maxRecordPartBytes) throw recordTooLarge();
    chunks.push(chunk);
  }
  const text = utf8Text(Buffer.concat(chunks), 'the "record" file');
  if (text instanceof ApiError) throw text;
  return text;
}

/**
 * Counts the body as it arrives, the preamble before the first part and the epilogue after the
 * last included (no part limit sees those), and trips as soon as the count passes the limit.
 * `within` races a wait of the parse against that, so the parse stops at once instead of reading
 * on to the next part boundary, or to the end of the body.
 */
function bodyLimitGuard(raw: IncomingMessage, maxBodyBytes: number) {
  let received = 0;
  let trip: (error: ApiError) => void = () => undefined;
  const tripped = new Promise<never>((_resolve, reject) => {
    trip = reject;
  });
  // Only ever awaited through a race: a parse that ends first leaves it pending, or tripped unheard.
  tripped.catch(() => undefined);
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= maxBodyBytes) return;
    raw.off('data', count);
    trip(bodyTooLarge(maxBodyBytes));
  };
  raw.on('data', count);
  return {
    within: <T>(pending: Promise<T>): Promise<T> => Promise.race([pending, tripped]),
    /** For the end of the parse, which may settle in the same turn as the chunk that tripped. */
    check: () => {
      if (received > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
    },
    dispose: () => raw.off('data', count),
  };
}

/**
 * Leaves a refused upload so that its connection cannot hang. The parser gets no more of the body:
 * a part left unread would pause the request for good, and with it the socket, which then neither
 * serves another request nor notices the client leave. A body of declared length (within the
 * limit: a larger one is refused before any of it is read) is read to its end and dropped, so a
 * keep-alive connection serves the next request; any other (chunked, or over the limit) is not
 * read further, and the connection closes after the answer.
 */
function abandonUpload(request: IncomingMessage, response: ServerResponse, drain: boolean): void {
  request.unpipe();
  if (drain) {
    request.resume();
  } else {
    request.pause();
    response.setHeader('connection', 'close');
  }
}

function declaredLength(request: FastifyRequest): number | undefined {
  const declared = Number(request.headers['content-length']);
  return request.headers['content-length'] !== undefined && Number.isFinite(declared) ? declared : undefined;
}

/**
 * Reads a multipart upload: one `record` part (JSON, without `image`), a field or a file, and one
 * `image` file; any other field or file, a second `record` or a second `image`, an empty image,
 * is MULTIPART_INVALID. Returns the record with the image
 * inline, for the record schema to check like any other. Fastify's bodyLimit does not cover a
 * multipart stream, so the whole request is held to `maxBodyBytes` here, counted as it streams
 * (413 BODY_TOO_LARGE), and the image to the smaller of that and the image limit.
 */
export async function readMultipartRecord(request: FastifyRequest, reply: FastifyReply, maxBodyBytes: number): Promise<Record<string, unknown>> {
  const declared = declaredLength(request);
  if (declared !== undefined && declared > maxBodyBytes) {
    abandonUpload(request.raw, reply.raw, false);
    throw bodyTooLarge(maxBodyBytes);
  }
  const { fileSize, tooLarge } = fileLimit(maxBodyBytes);
  const parts = request.parts({ limits: { ...limits, fileSize } });
  // The first step pipes the request to busboy; the guard's listener then only counts.
  const first = parts.next();
  const guard = bodyLimitGuard(request.raw, maxBodyBytes);
  let record: Record<string, unknown> | undefined;
  let image: Buffer | undefined;
  try {
    for (let step = await guard.within(first); step.done !== true; step = await guard.within(parts.next())) {
      const part = step.value;
      if (part.fieldname === 'record') {
        if (record !== undefined) throw multipartInvalid('a second "record" (field or file): an upload holds one');
        if (part.type === 'file') {
          const text = await guard.within(recordFileText(part.file));
          // Under a body limit below 1 MiB the file limit is the body's: a cut file is the request over it.
          if (part.file.truncated) throw tooLarge();
          record = recordOf(text);
        } else {
          if (part.valueTruncated) throw recordTooLarge();
          record = recordOf(part.value);
        }
      } else if (part.type === 'file') {
        if (part.fieldname !== 'image') throw multipartInvalid(`unexpected file field ${JSON.stringify(part.fieldname)}; send the image as "image"`);
        if (image !== undefined) throw multipartInvalid('a second "image" file: an upload holds one');
        image = await guard.within(part.toBuffer());
        if (part.file.truncated) throw tooLarge();
        if (image.length === 0) throw multipartInvalid('the image file is empty');
      } else {
        throw multipartInvalid(`unexpected field ${JSON.stringify(part.fieldname)}: an upload holds one "record" field and one "image" file`);
      }
    }
    guard.check();
  } catch (error) {
    const refusal = uploadError(error, maxBodyBytes);
    abandonUpload(request.raw, reply.raw, declared !== undefined && refusal.code !== 'BODY_TOO_LARGE');
    throw refusal;
  } finally {
    guard.dispose();
  }
  if (!record) throw multipartInvalid('multipart uploads need a "record" field holding the record as JSON');
  if (!image) throw multipartInvalid('multipart uploads need an "image" file field');
  return { ...record, image: { base64: image.toString('base64') } };
}
