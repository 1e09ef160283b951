import type { Readable } from 'node:stream';
import { StorageError } from './storage-error.ts';

export function tooLarge(key: string, maxBytes: number, bytes?: number): StorageError {
  const size = bytes === undefined ? 'more than' : `${bytes} bytes,`;
  return new StorageError('STORAGE_TOO_LARGE', `object ${key} is ${size} ${maxBytes} bytes allowed`, { key });
}

/**
 * Reads a stream into one Buffer, stopping (and destroying the stream) as soon as it passes
 * `maxBytes`, so a lying or missing Content-Length cannot make us buffer a huge object.
 */
export async function readAll(stream: Readable, key: string, maxBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > maxBytes) {
      stream.destroy();
      throw tooLarge(key, maxBytes);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, total);
}
