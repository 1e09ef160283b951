import { ApiError } from '@gradcam/http-service';
import type { FastifyRequest } from 'fastify';
import { maxImageBytes } from './inline-image.ts';

const limits = { files: 1, fields: 4 };

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
  if (code === 'FST_FILES_LIMIT') return new ApiError(400, 'MULTIPART_INVALID', `multipart uploads hold ${limits.files} file (the "image")`);
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new ApiError(400, 'MULTIPART_INVALID', `multipart uploads hold a "record" field and an "image" file (at most ${limits.fields} fields)`);
  }
  return new ApiError(400, 'MULTIPART_INVALID', `the multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Reads a multipart upload: a `record` field (JSON, without `image`) and an `image` file. Returns
 * the record with the image inline, for the record schema to check like any other. Fastify's
 * bodyLimit does not cover a multipart stream, so the whole request is held to `maxBodyBytes`
 * here (413 BODY_TOO_LARGE) and the image to the smaller of that and the image limit.
 */
export async function readMultipartRecord(request: FastifyRequest, maxBodyBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBodyBytes && maxBodyBytes < maxImageBytes) throw bodyTooLarge(maxBodyBytes);
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
  };
  request.raw.on('data', count);
  const { fileSize, tooLarge } = fileLimit(maxBodyBytes);
  let record: Record<string, unknown> | undefined;
  let image: Buffer | undefined;
  try {
    for await (const part of request.parts({ limits: { ...limits, fileSize } })) {
      if (received > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
      if (part.type === 'file') {
        if (part.fieldname !== 'image') throw new ApiError(400, 'MULTIPART_INVALID', `unexpected file field "${part.fieldname}"; send the image as "image"`);
        image = await part.toBuffer();
        if (part.file.truncated) throw tooLarge();
      } else if (part.fieldname === 'record') {
        try {
          record = JSON.parse(String(part.value)) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, 'MULTIPART_INVALID', 'the "record" field is not valid JSON');
        }
      }
    }
    if (received > maxBodyBytes) throw bodyTooLarge(maxBodyBytes);
  } catch (error) {
    throw uploadError(error, maxBodyBytes);
  } finally {
    request.raw.off('data', count);
  }
  if (!record) throw new ApiError(400, 'MULTIPART_INVALID', 'multipart uploads need a "record" field holding the record as JSON');
  if (!image) throw new ApiError(400, 'MULTIPART_INVALID', 'multipart uploads need an "image" file field');
  return { ...record, image: { base64: image.toString('base64') } };
}
