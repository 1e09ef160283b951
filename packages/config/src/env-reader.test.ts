import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvReader } from './env-reader.ts';
import { readLocalStackConfig } from './local-stack-config.ts';
import { readIngestConfig, readWorkerConfig } from './service-configs.ts';
import { rejectsNaming } from './test-support/rejects-naming.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', GRADCAM_API_TOKENS: 'token-aaaaaaaaaaaaaaaa', GRADCAM_URL_SIGNING_SECRET: 'test-signing-secret-0123' };
const redisForm = /^REDIS_URL: expected redis:\/\/\[user:password@\]host\[:port\]\[\/db\] \(rediss:\/\/ for TLS\), got "/;
const httpForm = /expected http:\/\/host\[:port\]\[\/path\] or https:\/\/host\[:port\]\[\/path\], got "/;

test('REDIS_URL spells redis:// or rediss://, a host, and at most a database number after it', () => {
  for (const url of ['redis://db.internal:6380', 'redis://redis', 'REDIS://db.internal:6380', 'rediss://user:pass@db.internal:6380/2', 'redis://:pass@db.internal', 'redis://[::1]:6379', 'redis://db.internal/', 'redis://db.internal:6379?family=6', 'redis://db_1:6379']) {
    assert.equal(readWorkerConfig({ ...base, REDIS_URL: url }).redisUrl, url);
    assert.equal(readLocalStackConfig({ REDIS_URL: url }).redisUrl, url);
  }
  // The WHATWG parser takes each of these without a host (ioredis then connects to localhost, or
  // to a host named "redis", or throws a bare TypeError), or with one only by http's leniency.
  for (const url of ['redis:', 'redis://', 'redis:/db.internal:6380', 'redis:db.internal:6380', 'rediss:db.internal:6380', 'redis:///db.internal:6380', 'redis:\\\\db.internal:6380', 'redis://:6379', 'redis://user@:6379']) {
    rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: url }), 'REDIS_URL', redisForm, url);
    rejectsNaming(() => readLocalStackConfig({ REDIS_URL: url }), 'REDIS_URL', redisForm, url);
  }
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'redis:db.internal:6380' }), 'REDIS_URL', /got "redis:db.internal:6380": the scheme must be followed by "\/\/" and the host$/);
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'redis://' }), 'REDIS_URL', /: no host$/);
  // ioredis SELECTs what follows the slash, and cannot connect to port 0.
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'redis://db.internal/cache' }), 'REDIS_URL', /"\/cache" is not a database number$/);
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'redis://db.internal/1/2' }), 'REDIS_URL', /not a database number$/);
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'redis://db.internal:0' }), 'REDIS_URL', /: port 0$/);
  for (const url of ['db.internal:6379', '127.0.0.1:6379', 'http://db.internal:6379', 'redis://db.internal:99999']) rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: url }), 'REDIS_URL', redisForm, url);
});

test('a URL in an error has its password hidden', () => {
  for (const url of ['redis://:hunter2-secret@db.internal:99999', 'redis://u:hunter2-secret@db.internal/x', 'redis:u:hunter2-secret@db.internal']) {
    rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: url }), 'REDIS_URL', /got "redis:(\/\/)?u?:\*\*\*@db\.internal/, url);
    assert.throws(() => readWorkerConfig({ ...base, REDIS_URL: url }), (error: Error) => !error.message.includes('hunter2'), url);
  }
});

test('S3_ENDPOINT and GRADCAM_PUBLIC_URL spell http:// or https:// and a host, with no user, query or fragment', () => {
  const s3 = { ...base, S3_BUCKET: 'gradcam' };
  for (const url of ['http://127.0.0.1:9000', 'https://s3.eu-west-1.amazonaws.com', 'HTTP://minio:9000', 'http://[::1]:9000']) {
    const { storage } = readWorkerConfig({ ...s3, S3_ENDPOINT: url });
    assert.ok(storage.kind === 's3' && storage.endpoint === url, url);
  }
  const publicUrl = readIngestConfig({ ...base, GRADCAM_PUBLIC_URL: 'https://gradcam.example.com/artifacts/' }).storage;
  assert.ok(publicUrl.kind === 'local' && publicUrl.publicBaseUrl === 'https://gradcam.example.com/artifacts');
  const defaults = readIngestConfig(base).storage;
  assert.ok(defaults.kind === 'local' && defaults.publicBaseUrl === 'http://127.0.0.1:8080');
  // `http:host` and `http:/host` parse as http://host/ by the parser's leniency alone; presigned
  // links are built by appending `/v1/blobs/…?expires=…` to the public URL.
  const bad = ['http:example.com', 'http:/example.com', 'https:example.com:443', 'http://', 'http:///example.com', 'http:\\\\example.com', 'localhost:8080', 'ftp://example.com', 'http://example.com:0', 'http://example.com/a?x=1', 'http://example.com/a#y', 'http://example.com/?', 'http://user:pass@example.com'];
  for (const url of bad) {
    rejectsNaming(() => readWorkerConfig({ ...s3, S3_ENDPOINT: url }), 'S3_ENDPOINT', httpForm, url);
    rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_PUBLIC_URL: url }), 'GRADCAM_PUBLIC_URL', httpForm, url);
  }
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_PUBLIC_URL: 'http://h/a?x=1#y' }), 'GRADCAM_PUBLIC_URL', /takes no user, query or fragment$/);
});

test('EnvReader.url: unset is the fallback, checked like a value', () => {
  const env = new EnvReader({ EMPTY: '  ' });
  assert.equal(env.url('UNSET', undefined, 'redis'), undefined);
  assert.equal(env.url('EMPTY', 'redis://127.0.0.1:6379', 'redis'), 'redis://127.0.0.1:6379');
  rejectsNaming(() => env.url('UNSET', 'redis://', 'redis'), 'UNSET', /: no host$/);
});
