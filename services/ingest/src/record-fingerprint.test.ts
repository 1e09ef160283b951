import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type InferenceRecord, inferenceRecordSchema } from '@gradcam/contracts';
import { differingParts, recordFingerprint } from './record-fingerprint.ts';

const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
const base: InferenceRecord = inferenceRecordSchema.parse({
  id: 'fp-1',
  model: { name: 'm', version: 'v1' },
  image: { base64: photo.toString('base64') },
  prediction: { classIndex: 2, label: 'Neutral', scores: [0.1, 0.2, 0.7] },
  explain: { methods: ['gradcam'], topK: 2 },
  metadata: { camera: 'c-7', frame: 12 },
});
const fingerprint = (record: unknown) => recordFingerprint(inferenceRecordSchema.parse(record));

test('the same content, keys in any order, image given by its bytes or by their sha256: one fingerprint', () => {
  const reordered = JSON.parse(
    '{"metadata":{"frame":12,"camera":"c-7"},"explain":{"topK":2,"methods":["gradcam"]},"prediction":{"scores":[0.1,0.2,0.7],"label":"Neutral","classIndex":2},' +
      `"image":{"base64":"${photo.toString('base64')}"},"model":{"version":"v1","name":"m"},"id":"fp-1"}`,
  );
  assert.equal(fingerprint(reordered), recordFingerprint(base));
  assert.equal(recordFingerprint(base, createHash('sha256').update(photo).digest('hex')), recordFingerprint(base), 'the sha256 ingest computed is the one it would compute');
  assert.deepEqual(differingParts(fingerprint(reordered), recordFingerprint(base)), []);
  assert.match(recordFingerprint(base), /^f1:([0-9a-f]{16}\.){4}[0-9a-f]{16}$/);
});

test('each part that differs is named', () => {
  const other = Buffer.concat([photo, Buffer.from([0])]);
  const cases: [unknown, string[]][] = [
    [{ ...base, image: { base64: other.toString('base64') } }, ['image']],
    [{ ...base, image: { uri: 's3://local/images/a.jpg' } }, ['image']],
    [{ ...base, model: { name: 'm' } }, ['model']],
    [{ ...base, prediction: { classIndex: 1 } }, ['prediction']],
    [{ ...base, prediction: undefined }, ['prediction']],
    [{ ...base, explain: { methods: ['gradcam'], topK: 3 } }, ['explain']],
    [{ ...base, metadata: { camera: 'c-8', frame: 12 } }, ['metadata']],
    [{ ...base, prediction: { classIndex: 1 }, metadata: {} }, ['prediction', 'metadata']],
  ];
  for (const [record, parts] of cases) assert.deepEqual(differingParts(recordFingerprint(base), fingerprint(record)), parts, JSON.stringify(parts));
});

test('an image by reference is its URI as sent', () => {
  const a = fingerprint({ ...base, image: { uri: 's3://local/images/a.jpg' } });
  assert.equal(fingerprint({ ...base, image: { uri: 's3://local/images/a.jpg' } }), a);
  assert.deepEqual(differingParts(a, fingerprint({ ...base, image: { uri: 's3://local/images/b.jpg' } })), ['image']);
});

test('a fingerprint of another form is not compared', () => {
  assert.equal(differingParts('f2:abc', recordFingerprint(base)), undefined);
  assert.equal(differingParts(recordFingerprint(base), 'garbage'), undefined);
});

test('an empty explain or metadata object is the same as none: a client whose encoder drops empty objects, or adds them, is not refused for it', () => {
  const bare = { id: 'fp-2', model: { name: 'm' }, image: { uri: 's3://local/images/a.jpg' } };
  assert.equal(fingerprint({ ...bare, explain: {}, metadata: {} }), fingerprint(bare));
  assert.deepEqual(differingParts(fingerprint(bare), fingerprint({ ...bare, metadata: { a: 1 } })), ['metadata']);
});
