import { ApiError } from '@gradcam/http-service';
import type { FastifyRequest } from 'fastify';
import { maxImageBytes } from './inline-image.ts';

const limits = { fileSize: maxImageBytes, files: 1, fields: 4 };

/** States an error of @fastify/multipart or busboy: every one is about this upload, none about the service. */
function uploadError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return new ApiError(413, 'IMAGE_TOO_LARGE', `images are limited to ${maxImageBytes} bytes`);
  if (code === 'FST_FILES_LIMIT') return new ApiError(400, 'MULTIPART_INVALID', `multipart uploads hold ${limits.files} file (the "image")`);
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new ApiError(400, 'MULTIPART_INVALID', `multipart uploads hold a "record" field and an "image" file (at most ${limits.fields} fields)`);
  }
  return new ApiError(400, 'MULTIPART_INVALID', `the multipart body is malformed: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Reads a multipart upload: a `record` field (JSON, without `image`) and an `image` file. Returns
 * the record with the image inline, for the record schema to check like any other.
 */
export async function readMultipartRecord(request: FastifyRequest): Promise<Record<string, unknown>> {
  let record: Record<string, unknown> | undefined;
  let image: Buffer | undefined;
  try {
    for await (const part of request.parts({ limits })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'image') throw new ApiError(400, 'MULTIPART_INVALID', `unexpected file field "${part.fieldname}"; send the image as "image"`);
        image = await part.toBuffer();
        if (part.file.truncated) throw new ApiError(413, 'IMAGE_TOO_LARGE', `images are limited to ${maxImageBytes} bytes`);
      } else if (part.fieldname === 'record') {
        try {
          record = JSON.parse(String(part.value)) as Record<string, unknown>;
        } catch {
          throw new ApiError(400, 'MULTIPART_INVALID', 'the "record" field is not valid JSON');
        }
      }
    }
  } catch (error) {
    throw uploadError(error);
  }
  if (!record) throw new ApiError(400, 'MULTIPART_INVALID', 'multipart uploads need a "record" field holding the record as JSON');
  if (!image) throw new ApiError(400, 'MULTIPART_INVALID', 'multipart uploads need an "image" file field');
  return { ...record, image: { base64: image.toString('base64') } };
}
