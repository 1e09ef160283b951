import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jobImageSchema } from './explain-job.ts';
import { inferenceRecordSchema, modelNameSchema, modelVersionSchema, parseS3Uri, s3UriSchema } from './inference-record.ts';
import { inferenceFolder } from './storage-keys.ts';

const location = { prefix: 'captures', model: 'mobilenet_v2', modelVersion: '2024.06.01', acceptedAt: new Date(Date.UTC(2026, 0, 2)), inferenceId: 'abc' };

test('model names and versions of dots only, or shaped like a temporary file, are refused: storage would refuse the folder', () => {
  for (const schema of [modelNameSchema, modelVersionSchema]) {
    for (const name of ['.', '..', '...', '.x.0123456789abcdef.partial']) assert.equal(schema.safeParse(name).success, false, JSON.stringify(name));
    for (const name of ['v1.2', '.hidden', 'a..b', '..a', 'a.', 'mobilenet_v2', '2024.06.01', '.x.0123456789abcdef.partial.1']) {
      assert.equal(schema.safeParse(name).success, true, JSON.stringify(name));
    }
  }
  assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm', version: '1' }, image: { uri: 's3://bucket/img.jpg' } }).success, true);
  assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: '..', version: '1' }, image: { uri: 's3://bucket/img.jpg' } }).success, false);
  assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm', version: '.' }, image: { uri: 's3://bucket/img.jpg' } }).success, false);
  assert.throws(() => inferenceFolder({ ...location, model: '..' }));
  assert.throws(() => inferenceFolder({ ...location, modelVersion: '.' }));
  assert.equal(inferenceFolder(location), 'captures/mobilenet_v2/2024.06.01/dt=2026-01-02/abc/');
});

test('parseS3Uri splits a key holding line terminators, as the schema lets them through (the store judges the key)', () => {
  for (const terminator of ['\n', '\r', '\r\n', '\u2028', '\u2029']) {
    const uri = `s3://bucket/uploads/a${terminator}b.jpg`;
    assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm' }, image: { uri } }).success, true, JSON.stringify(uri));
    assert.deepEqual(parseS3Uri(uri), { bucket: 'bucket', key: `uploads/a${terminator}b.jpg` });
  }
  assert.throws(() => parseS3Uri('s3://bucket'), TypeError);
});

test('"." and ".." segments: a record\'s URI is checked for its shape only (ingest refuses the key with the store\'s rules); a job\'s is refused', () => {
  for (const uri of ['s3://bucket/a/../b.jpg', 's3://bucket/./b.jpg', 's3://bucket/a/..']) {
    assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm' }, image: { uri } }).success, true, uri);
    assert.equal(jobImageSchema.safeParse({ uri }).success, false, uri);
    assert.equal(s3UriSchema.safeParse(uri).success, false, uri);
  }
  assert.equal(inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm' }, image: { uri: 's3://bucket/a\0b.jpg' } }).success, false, 'NUL is not a key');
  assert.equal(jobImageSchema.safeParse({ uri: 's3://bucket/a/b.jpg' }).success, true);
});
