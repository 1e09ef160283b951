import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { failedOnItsImage, imageChangedCode } from '@gradcam/contracts';
import { type S3Server, startS3Server } from '@gradcam/dev-services';
import type { ImagingErrorCode } from '@gradcam/imaging';
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

test('a job that failed on its image itself (what a retry by name re-reads the image for, dropping its recorded identity) is named in one list; a new imaging code must be placed', () => {
  // A Record over every imaging code: one added to @gradcam/imaging does not compile here until it
  // is said to blame the image or not, and the list in @gradcam/contracts agrees.
  const blamesTheImage: Record<ImagingErrorCode, boolean> = {
    IMAGE_EMPTY: true,
    IMAGE_TOO_LARGE: true,
    IMAGE_TOO_MANY_PIXELS: true,
    IMAGE_UNSUPPORTED_FORMAT: true,
    IMAGE_CORRUPT: true,
    IMAGING_OUT_OF_MEMORY: false,
  };
  for (const [code, blames] of Object.entries(blamesTheImage)) assert.equal(failedOnItsImage(code), blames, code);
  assert.equal(failedOnItsImage('STORAGE_NOT_FOUND'), true, 'the input is not where the job says');
  assert.equal(failedOnItsImage('STORAGE_TOO_LARGE'), true, 'the input is too big to read');
  assert.equal(failedOnItsImage(imageChangedCode), false, 'a replaced image is what the identity catches');
  for (const code of ['IMAGE_URI_INVALID', 'IMAGE_NOT_FOUND', 'STORAGE_UNAVAILABLE', 'CLASS_OUT_OF_RANGE']) assert.equal(failedOnItsImage(code), false, code);
});
