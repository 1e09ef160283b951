import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inferenceRecordSchema, modelNameSchema, modelVersionSchema } from './inference-record.ts';
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
