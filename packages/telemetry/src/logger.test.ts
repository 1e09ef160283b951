import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from './logger.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, lines };
}

test('writes one JSON object per line with name, level and ISO time, honouring the level', () => {
  const { stream, lines } = capture();
  const logger = createLogger({ name: 'worker', level: 'info', destination: stream });
  logger.debug('hidden');
  logger.info({ batch: 8 }, 'batch done');
  const [line, ...rest] = lines();
  assert.equal(rest.length, 0, 'debug is below the level');
  assert.equal(line?.name, 'worker');
  assert.equal(line?.msg, 'batch done');
  assert.equal(line?.batch, 8);
  assert.equal(line?.level, 30);
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('errors keep message, stack and code; inline image bytes are redacted', () => {
  const { stream, lines } = capture();
  const logger = createLogger({ name: 'ingest', level: 'info', destination: stream });
  logger.error({ err: Object.assign(new Error('boom'), { code: 'S3_UNAVAILABLE' }) }, 'upload failed');
  logger.info({ record: { id: 'a', image: { base64: 'AAAA' } } }, 'accepted');
  logger.info({ records: [{ id: 'b', image: { base64: 'BBBB' } }] }, 'accepted');
  const [error, one, many] = lines();
  const err = error?.err as { message: string; stack: string; code: string };
  assert.equal(err.message, 'boom');
  assert.equal(err.code, 'S3_UNAVAILABLE');
  assert.match(err.stack, /logger\.test\.ts/);
  assert.deepEqual(one?.record, { id: 'a', image: { base64: '[redacted]' } });
  assert.deepEqual(many?.records, [{ id: 'b', image: { base64: '[redacted]' } }]);
});
