import assert from 'node:assert/strict';
import { test } from 'node:test';
import { erasureRecordKey } from './erasure-record.ts';
import { explainJobSchema, jobImageSchema } from './explain-job.ts';
import { inferenceRecordSchema, modelNameSchema, modelVersionSchema, parseS3Uri, s3UriSchema } from './inference-record.ts';
import { predictionDocumentSchema } from './prediction-document.ts';
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

test('metadata of more than 32 keys is refused whole, in one issue, before any key or value is parsed', () => {
  const base = { id: 'abc', model: { name: 'm' }, image: { uri: 's3://bucket/img.jpg' } };
  const keys = (n: number, value: unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value]));
  assert.equal(inferenceRecordSchema.safeParse({ ...base, metadata: keys(32, 'v') }).success, true);
  for (const metadata of [keys(33, 'v'), keys(200_000, null)]) {
    const parsed = inferenceRecordSchema.safeParse({ ...base, metadata });
    assert.deepEqual(
      parsed.error?.issues.map((i) => [i.path.join('.'), i.message]),
      [['metadata', 'metadata holds at most 32 keys']],
    );
  }
  const list = inferenceRecordSchema.safeParse({ ...base, metadata: Array(100).fill('v') });
  assert.deepEqual(list.error?.issues.map((i) => [i.path.join('.'), i.code]), [['metadata', 'invalid_type']], 'an array is not a record, however long');
});

test('scores holding anything but finite numbers are refused in one issue naming the first, not one per element', () => {
  const record = (scores: unknown[]) => ({ id: 'abc', model: { name: 'm' }, image: { uri: 's3://bucket/img.jpg' }, prediction: { classIndex: 0, scores } });
  assert.equal(inferenceRecordSchema.safeParse(record(Array(10_000).fill(0.5))).success, true);
  const bad = inferenceRecordSchema.safeParse(record([0.5, ...Array(9_999).fill(null)]));
  assert.deepEqual(bad.error?.issues.map((i) => [i.path.join('.'), i.message]), [['prediction.scores', 'scores are finite numbers (scores[1] is not)']]);
  assert.equal(inferenceRecordSchema.safeParse(record(Array(10_001).fill(null))).error?.issues.length, 1, 'too many: one issue');
});

test('a URI\'s key is bounded by S3\'s 1024 bytes of UTF-8, whatever the bucket\'s length', () => {
  const bucket = 'b'.repeat(63);
  const parse = (key: string) => inferenceRecordSchema.safeParse({ id: 'abc', model: { name: 'm' }, image: { uri: `s3://${bucket}/${key}` } });
  for (const key of ['k'.repeat(1024), `${'k'.repeat(1022)}é`, `${'k'.repeat(1020)}😀`]) {
    assert.equal(parse(key).success, true, `${key.length} characters`);
    assert.equal(s3UriSchema.safeParse(`s3://${bucket}/${key}`).success, true);
  }
  for (const key of ['k'.repeat(1025), `${'k'.repeat(1023)}é`, `${'k'.repeat(1021)}😀`, 'é'.repeat(1000), 'k'.repeat(100_000)]) {
    const parsed = parse(key);
    assert.deepEqual(
      parsed.error?.issues.map((i) => [i.path.join('.'), i.message]),
      [['image.uri', "image.uri's key may be at most 1024 bytes (UTF-8)"]],
      `${key.length} characters`,
    );
  }
});

test('inferenceFolder: a prefix of slashes only is no prefix, one with an empty or dots-only folder is refused: no key starts with "/" or climbs out', () => {
  const tail = 'mobilenet_v2/2024.06.01/dt=2026-01-02/abc/';
  for (const prefix of ['', '/', '//']) assert.equal(inferenceFolder({ ...location, prefix }), tail, JSON.stringify(prefix));
  for (const prefix of ['/captures/', 'captures/']) assert.equal(inferenceFolder({ ...location, prefix }), `captures/${tail}`, prefix);
  assert.equal(inferenceFolder({ ...location, prefix: 'a/.b/c..d' }), `a/.b/c..d/${tail}`);
  for (const prefix of ['a/../..', '..', '/./', 'a//b', 'a/.../b']) {
    assert.throws(() => inferenceFolder({ ...location, prefix }), (e: unknown) => e instanceof RangeError && e.message.includes(JSON.stringify(prefix)), prefix);
  }
});

test('a job\'s folder is its own inference\'s, as inferenceFolder makes it: one naming another inference\'s folder is refused', () => {
  const job = {
    inferenceId: 'abc',
    model: { name: location.model, version: location.modelVersion },
    folder: inferenceFolder(location),
    image: { key: `${inferenceFolder(location)}input.jpg` },
    explain: {},
    acceptedAt: 1,
    capture: { explain: true, reason: 'all', policy: 'all' },
  };
  assert.equal(explainJobSchema.safeParse(job).success, true);
  assert.equal(explainJobSchema.safeParse({ ...job, folder: inferenceFolder({ ...location, prefix: '' }) }).success, true);
  for (const folder of [inferenceFolder({ ...location, inferenceId: 'other' }), 'captures/mobilenet_v2/2024.06.01/dt=2026-01-02/xabc/', 'captures/abc/x/']) {
    const parsed = explainJobSchema.safeParse({ ...job, folder });
    assert.deepEqual(parsed.error?.issues.map((i) => [i.path.join('.'), i.message]), [['folder', 'must be the inference\'s own folder, ending in "/<inferenceId>/"']], folder);
  }
});

test('a record with a key it does not know is refused, naming the key (and the known one it is near): misspelt keys were dropped and the record accepted without them', () => {
  const base = { id: 'abc', model: { name: 'm' }, image: { uri: 's3://bucket/img.jpg' } };
  const issues = (value: unknown) => inferenceRecordSchema.safeParse(value).error?.issues.map((i) => [i.path.join('.'), i.message]);
  assert.deepEqual(issues({ ...base, model: { name: 'm', verison: '2' }, explian: { topK: 2 }, metdata: { a: 1 } }), [
    ['model', 'unknown key "verison" (did you mean "version"?)'],
    ['', 'unknown keys "explian" (did you mean "explain"?), "metdata" (did you mean "metadata"?)'],
  ]);
  assert.deepEqual(issues({ ...base, explain: { method: ['gradcam'] } }), [['explain', 'unknown key "method" (did you mean "methods"?)']]);
  assert.deepEqual(issues({ ...base, prediction: { classIndex: 1, score: [1] } }), [['prediction', 'unknown key "score" (did you mean "scores"?)']]);
  assert.deepEqual(issues({ ...base, image: { uri: 's3://bucket/img.jpg', base64: 'AAAA' } }), [['image', 'image takes "base64" or "uri", not both']]);
  assert.deepEqual(issues({ ...base, image: { base64: 'AAAA', contentType: 'image/jpeg' } }), [['image', 'unknown key "contentType"']]);
  assert.deepEqual(issues({ ...base, a: 1, b: 2, c: 3, ['k'.repeat(100_000)]: 4 }), [['', `unknown keys "a", "b", "c" and 1 more`]]);
  assert.deepEqual(issues({ ...base, [`x${'k'.repeat(100)}`]: 4 }), [['', `unknown key "x${'k'.repeat(63)}…"`]], 'a long key is quoted in part');
  // metadata stays an open map.
  assert.equal(inferenceRecordSchema.safeParse({ ...base, metadata: { anything: 1, verison: 'x' } }).success, true);
});

test('what one version writes for another to read stays open: a job or prediction.json with a field this version does not know is read, not failed', () => {
  const folder = inferenceFolder(location);
  const capture = { explain: true, reason: 'all', policy: 'all' };
  const job = { inferenceId: 'abc', model: { name: location.model, version: location.modelVersion, tag: 'new' }, folder, image: { key: `${folder}input.jpg`, etag: 'x' }, explain: { topK: 2, newer: true }, acceptedAt: 1, capture, priority: 3 };
  assert.equal(explainJobSchema.safeParse(job).success, true);
  const document = {
    schemaVersion: 1,
    inferenceId: 'abc',
    acceptedAt: new Date().toISOString(),
    model: { name: 'm', version: '1', versionGiven: true, tag: 'new' },
    image: { key: `${folder}input.jpg`, contentType: 'image/jpeg', bytes: 10 },
    prediction: { classIndex: 1, calibrated: true },
    explain: { methods: ['gradcam'], newer: true },
    capture,
    addedLater: { x: 1 },
  };
  assert.equal(predictionDocumentSchema.safeParse(document).success, true);
});

test('"_erasures" is no model name: erasure records live under {prefix}/_erasures/, where no inference folder can', () => {
  assert.equal(modelNameSchema.safeParse('_erasures').success, false);
  assert.equal(modelNameSchema.safeParse('_erasures2').success, true);
  assert.equal(erasureRecordKey('/team-a/captures/', new Date('2026-11-29T23:59:59Z'), 'req-42'), 'team-a/captures/_erasures/dt=2026-11-29/req-42.json');
  assert.equal(erasureRecordKey('', new Date('2026-11-29T00:00:00Z'), 'req-42'), '_erasures/dt=2026-11-29/req-42.json');
  assert.throws(() => erasureRecordKey('p', new Date(), '../x'));
});
