import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type S3Server, startS3Server } from '@gradcam/dev-services';
import { S3BlobStore } from '@gradcam/storage';
import { toJobFailure } from './job-failure.ts';

let server: S3Server;
before(async () => {
  server = await startS3Server({ buckets: ['pipeline'] });
});
after(() => server.stop());

const store = (bucket: string) => {
  const { endpoint, region, accessKeyId, secretAccessKey } = server;
  return new S3BlobStore({ endpoint, region, accessKeyId, secretAccessKey, bucket, forcePathStyle: true });
};
const failureOf = async (work: Promise<unknown>, context: string, options?: { reading: 'input' }) => {
  const error = await work.then(() => assert.fail('expected a rejection'), (e: unknown) => e);
  return toJobFailure(error, context, options);
};

test('a missing input fails the job for good; a missing bucket on a write is an outage, retried', async () => {
  const input = await failureOf(store('pipeline').get('inputs/gone.jpg'), 'reading inputs/gone.jpg', { reading: 'input' });
  assert.deepEqual([input.code, input.permanent], ['STORAGE_NOT_FOUND', true]);
  assert.match(input.message, /^reading inputs\/gone\.jpg: /);

  const write = await failureOf(store('deleted-bucket').put('m/v1/x/explanation.json', Buffer.from('{}'), { contentType: 'application/json' }), 'storing the explanation');
  assert.deepEqual([write.code, write.permanent], ['STORAGE_BUCKET_NOT_FOUND', false]);

  const corrupt = toJobFailure(Object.assign(new Error('not a JPEG'), { code: 'IMAGE_CORRUPT' }), 'decoding the image');
  assert.deepEqual([corrupt.code, corrupt.permanent], ['IMAGE_CORRUPT', true]);
  const uncoded = toJobFailure(new TypeError('x is undefined'), 'explaining the batch');
  assert.deepEqual([uncoded.code, uncoded.permanent], ['INTERNAL', false]);
});
