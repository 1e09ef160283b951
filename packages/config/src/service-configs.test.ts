import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { ConfigError } from './config-error.ts';
import { parseCapturePolicy } from './capture-policy.ts';
import { isLoopbackHost, longestKeyAfterPrefix, maxStoragePrefixBytes } from './common-config.ts';
import { fetchRefusedPorts, readLocalStackConfig } from './local-stack-config.ts';
import { checkServiceConfigs, maxTimerMs, readExporterConfig, readIngestConfig, readReviewConfig, readWorkerConfig } from './service-configs.ts';
import { rejectsNaming } from './test-support/rejects-naming.ts';

// Services bind 0.0.0.0 by default, where a locally stored artifact needs an explicit signing secret.
const signingSecret = { GRADCAM_URL_SIGNING_SECRET: 'test-signing-secret-0123' };
const base = { REDIS_URL: 'redis://127.0.0.1:6379', GRADCAM_API_TOKENS: 'token-aaaaaaaaaaaaaaaa', ...signingSecret };
const redisOnly = { REDIS_URL: base.REDIS_URL, ...signingSecret };

test('defaults: local storage, capture everything, one worker process per core', () => {
  const ingest = readIngestConfig(base);
  assert.equal(ingest.port, 8080);
  assert.equal(ingest.storage.kind, 'local');
  assert.ok(ingest.storage.kind === 'local' && ingest.storage.fsync, 'durable by default');
  const fast = readIngestConfig({ ...base, GRADCAM_STORAGE_FSYNC: 'false' });
  assert.ok(fast.storage.kind === 'local' && !fast.storage.fsync);
  assert.equal(ingest.capturePolicy.all, true);
  const worker = readWorkerConfig(base);
  assert.equal(worker.batchSize, 8);
  assert.deepEqual(worker.models, ['nsfw-mobilenet-v2']);
  assert.throws(() => readWorkerConfig({ ...base, GRADCAM_MODELS: ' , ' }), /^ConfigError: GRADCAM_MODELS: names no model/);
  assert.ok(worker.processes >= 1);
  assert.equal(readExporterConfig(base).port, 9464);
});

test('render threads default to the cores beyond one per engine process', () => {
  const cores = availableParallelism();
  assert.equal(readWorkerConfig(base).renderThreads, 0, 'one process per core by default: no spare cores');
  assert.equal(readWorkerConfig({ ...base, GRADCAM_WORKER_PROCESSES: '1' }).renderThreads, cores - 1);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_WORKER_PROCESSES: String(cores * 2) }).renderThreads, 0);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_RENDER_THREADS: '3' }).renderThreads, 3);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_RENDER_THREADS: '-1' }), 'GRADCAM_RENDER_THREADS', /from 0 to 64/);
});

test('overlays are limited to 2048 px on their longest side unless told otherwise; 0 lifts the limit up to JPEG\'s 65,500 px', () => {
  assert.equal(readWorkerConfig(base).overlayMaxSide, 2048);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_OVERLAY_MAX_SIDE: '0' }).overlayMaxSide, 0);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_OVERLAY_MAX_SIDE: '65500' }).overlayMaxSide, 65_500);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_OVERLAY_MAX_SIDE: '65501' }), 'GRADCAM_OVERLAY_MAX_SIDE', /from 0 to 65500/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_OVERLAY_MAX_SIDE: 'big' }), 'GRADCAM_OVERLAY_MAX_SIDE', /whole number|integer/);
});

test('a batch holds 100 megapixels decoded at once unless told otherwise', () => {
  assert.equal(readWorkerConfig(base).maxBatchPixels, 100_000_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_BATCH_MAX_PIXELS: '20000000' }).maxBatchPixels, 20_000_000);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_BATCH_MAX_PIXELS: '0' }), 'GRADCAM_BATCH_MAX_PIXELS', /at least 1|from 1/);
});

test('S3 storage when a bucket is set; path-style by default with a custom endpoint', () => {
  const config = readWorkerConfig({ ...base, S3_BUCKET: 'gradcam', S3_ENDPOINT: 'http://127.0.0.1:9000', GRADCAM_STORAGE_PREFIX: '/prod/' });
  assert.equal(config.storage.kind, 's3');
  assert.ok(config.storage.kind === 's3' && config.storage.forcePathStyle);
  assert.equal(config.storage.prefix, 'prod');
});

test('GRADCAM_STORAGE_PREFIX is checked folder by folder: no empty, dots-only, over-long or temporary-file-shaped folder', () => {
  const prefixOf = (value: string) => readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: value }).storage.prefix;
  assert.equal(prefixOf('/prod/captures/'), 'prod/captures');
  assert.equal(prefixOf('team.a/dt=x/.hidden/v..1'), 'team.a/dt=x/.hidden/v..1');
  assert.equal(prefixOf(''), '');
  for (const [value, why] of [
    ['a/../b', /dots only/],
    ['a/./b', /dots only/],
    ['..', /dots only/],
    ['a/.../b', /dots only/],
    ['a//b', /empty folder/],
    [`a/${'x'.repeat(201)}`, /over 200/],
    ['a/.x.0123456789abcdef.partial/b', /temporary file/],
    ['a b', /may hold only/],
  ] as const) {
    rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: value }), 'GRADCAM_STORAGE_PREFIX', why);
  }
});

test('GRADCAM_STORAGE_PREFIX leaves room for the longest key a record can lead to, within the 1024 bytes of a key', () => {
  // {prefix}/{model: 64}/{version: 64}/dt=YYYY-MM-DD/{id: 128}/{gradcampp-<16 digits>.overlay.jpg: 38}
  assert.equal(longestKeyAfterPrefix(), 64 + 1 + 64 + 1 + 13 + 1 + 128 + 1 + 38);
  assert.equal(maxStoragePrefixBytes(), 1024 - 1 - longestKeyAfterPrefix());
  // Folders of 99 characters: a slash every 100th (712 ends in a folder of 12).
  const longest = Array.from({ length: maxStoragePrefixBytes() }, (_, i) => (i % 100 === 99 ? '/' : 'p')).join('');
  assert.equal(longest.length, maxStoragePrefixBytes());
  assert.equal(readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: longest }).storage.prefix, longest);
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: `${longest}q` }), 'GRADCAM_STORAGE_PREFIX', new RegExp(`at most ${maxStoragePrefixBytes()} characters .*1024 bytes.*got ${longest.length + 1}$`));
  // Every segment within 200 characters, the whole far over: the shape the per-folder checks missed.
  const folders = [...Array.from({ length: 4 }, (_, i) => String(i).repeat(200)), 'p'.repeat(100)].join('/');
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_STORAGE_PREFIX: folders }), 'GRADCAM_STORAGE_PREFIX', /at most \d+ characters/);
});

test('GRADCAM_REFERENCE_PREFIXES: unset, references anywhere in the bucket; a list of key prefixes taken literally; a URI or a leading / (which no key can start with) stops the service naming the fix', () => {
  assert.deepEqual(readIngestConfig(base).referencePrefixes, []);
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_REFERENCE_PREFIXES: 'inputs/, cameras/line-' }).referencePrefixes, ['inputs/', 'cameras/line-']);
  assert.throws(() => readIngestConfig({ ...base, GRADCAM_REFERENCE_PREFIXES: 's3://gradcam/inputs/' }), /^ConfigError: GRADCAM_REFERENCE_PREFIXES: "s3:\/\/gradcam\/inputs\/" is a URI: list key prefixes inside the bucket, e.g. inputs\/$/);
  assert.throws(() => readIngestConfig({ ...base, GRADCAM_REFERENCE_PREFIXES: 'inputs/,/uploads/' }), /^ConfigError: GRADCAM_REFERENCE_PREFIXES: "\/uploads\/" starts with \/, which no key does: write it as uploads\/$/);
  // Set to nothing is not "anywhere"; set empty is unset.
  assert.throws(() => readIngestConfig({ ...base, GRADCAM_REFERENCE_PREFIXES: ' , ' }), /^ConfigError: GRADCAM_REFERENCE_PREFIXES: names no prefix/);
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_REFERENCE_PREFIXES: '' }).referencePrefixes, []);
  // Overlapping the pipeline's own folder, either way round; a lookalike sibling is not.
  for (const overlapping of ['explanations/', 'explanations/nsfw-mobilenet-v2/', 'exp']) {
    assert.throws(() => readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: 'explanations', GRADCAM_REFERENCE_PREFIXES: `inputs/,${overlapping}` }), /overlaps the pipeline's own folder explanations\/ \(GRADCAM_STORAGE_PREFIX\)/, overlapping);
  }
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: 'explanations', GRADCAM_REFERENCE_PREFIXES: 'explanations-in/' }).referencePrefixes, ['explanations-in/']);
});

test('API tokens are 16 or more characters without whitespace, which a Bearer header cannot carry', () => {
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_API_TOKENS: ' token-aaaaaaaaaaaaaaaa , token-bbbbbbbbbbbbbbbb ' }).apiTokens, ['token-aaaaaaaaaaaaaaaa', 'token-bbbbbbbbbbbbbbbb']);
  for (const tokens of ['team a secret 0123456789', 'token-aaaaaaaaaaaaaaaa,team\tb-secret-0123456789', 'token\u00a0aaaaaaaaaaaaaaaa']) {
    rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_API_TOKENS: tokens }), 'GRADCAM_API_TOKENS', /whitespace/);
    assert.throws(() => readIngestConfig({ ...base, GRADCAM_API_TOKENS: tokens }), (error: Error) => !error.message.includes('secret'), 'the token is not echoed');
  }
});

test('GRADCAM_ERASE_TOKENS: unset or empty disables erasure; tokens as API tokens (16+ header characters, kept once); none may also be an API token', () => {
  assert.deepEqual(readIngestConfig(base).eraseTokens, []);
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: ' , ' }).eraseTokens, []);
  const eraser = 'erase-token-aaaaaaaaaaaa';
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: ` ${eraser} , erase-token-bbbbbbbbbbbb,${eraser}` }).eraseTokens, [eraser, 'erase-token-bbbbbbbbbbbb']);
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: 'short' }), 'GRADCAM_ERASE_TOKENS', /16 characters/);
  for (const tokens of ['erase secret 0123456789', 'erase-secret-t€ken-0123456789']) {
    rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: tokens }), 'GRADCAM_ERASE_TOKENS', /token 1 of 1 holds/, tokens);
    assert.throws(() => readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: tokens }), (error: Error) => !error.message.includes('secret'), 'the token is not echoed');
  }
  // A producer's token never erases: the same token in both lists stops the service.
  const shared = `${eraser},${base.GRADCAM_API_TOKENS}`;
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_ERASE_TOKENS: shared }), 'GRADCAM_ERASE_TOKENS', /token 2 of 2 is also an API token \(GRADCAM_API_TOKENS\)/, shared);
});

test('tokens hold what a header carries (printable ASCII, Latin-1): Node reads a header as latin1, so a control character or one past U+00FF could never be presented', () => {
  const foreign = ['token-aaaaaaaaaaaaaaaa,secret-t€ken-0123456789', 'secret-token-\u00010123456789', 'secret-token-0123456789\u007f', 'secret-token-🔑-0123456789'];
  for (const tokens of foreign) {
    rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_API_TOKENS: tokens }), 'GRADCAM_API_TOKENS', /token \d of \d holds a control character or one past U\+00FF/, tokens);
    assert.throws(() => readIngestConfig({ ...base, GRADCAM_API_TOKENS: tokens }), (error: Error) => !error.message.includes('secret'), 'the token is not echoed');
    const entries = `alice:alice-token-0123456789,bob:${tokens.split(',').at(-1) ?? ''}`;
    rejectsNaming(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: entries }), 'GRADCAM_REVIEW_TOKENS', /entry 2 of 2 is not reviewer:token .*printable ASCII \(! to ~\) or Latin-1/, entries);
    assert.throws(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: entries }), (error: Error) => !error.message.includes('secret'), 'the token is not echoed');
  }
  // Every printable ASCII character is fine, ':' in a reviewer token included (the first ':' ends the name).
  const everyCharacter = Array.from({ length: 0xff - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i))
    .filter((c) => c !== ',' && c !== '\u007f' && c !== '\u00a0')
    .join('');
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_API_TOKENS: everyCharacter }).apiTokens, [everyCharacter]);
  assert.deepEqual([...readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: `alice:${everyCharacter}` }).reviewers], [[everyCharacter, 'alice']]);
});

test('each bad or missing value is one line naming the variable', () => {
  rejectsNaming(() => readWorkerConfig({}), 'REDIS_URL', /required/);
  rejectsNaming(() => readWorkerConfig({ ...base, REDIS_URL: 'http://x' }), 'REDIS_URL', /expected redis:\/\/\[user:password@\]host\[:port\]\[\/db\] \(rediss:\/\/ for TLS\), got "http:\/\/x"$/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_BATCH_SIZE: 'eight' }), 'GRADCAM_BATCH_SIZE', /integer/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_BATCH_SIZE: '0' }), 'GRADCAM_BATCH_SIZE', /from 1 to 256/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_BACKEND: 'gpu' }), 'GRADCAM_BACKEND', /one of auto, tensorflow-gpu/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_REVIEW_POLICY: 'budget=lots' }), 'GRADCAM_REVIEW_POLICY', /budget=lots/);
  rejectsNaming(() => readIngestConfig(redisOnly), 'GRADCAM_API_TOKENS', /required/);
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_API_TOKENS: 'short' }), 'GRADCAM_API_TOKENS', /16 characters/);
  rejectsNaming(() => readIngestConfig({ ...base, S3_ENDPOINT: 'http://minio:9000' }), 'S3_BUCKET', /required when S3_ENDPOINT/);
  rejectsNaming(() => readIngestConfig({ ...base, S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: 'maybe' }), 'S3_FORCE_PATH_STYLE', /true or false/);
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_STORAGE_PREFIX: 'a b' }), 'GRADCAM_STORAGE_PREFIX', /may hold only/);
});

test('S3_ENDPOINT whose path names S3_BUCKET is refused: the client would store every key under "<bucket>/" in the bucket', () => {
  const s3 = { ...base, S3_BUCKET: 'mybucket' };
  rejectsNaming(() => readWorkerConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000/mybucket' }), 'S3_ENDPOINT', /^S3_ENDPOINT: names the bucket "mybucket" in its path \("\/mybucket"\); give the server's address alone \(http:\/\/minio:9000\) and the bucket in S3_BUCKET$/);
  rejectsNaming(() => readIngestConfig({ ...s3, S3_ENDPOINT: 'https://s3.example.com/mybucket/' }), 'S3_ENDPOINT', /give the server's address alone \(https:\/\/s3\.example\.com\) and the bucket in S3_BUCKET$/);
  rejectsNaming(() => readWorkerConfig({ ...s3, S3_ENDPOINT: 'http://127.0.0.1:9000/mybucket/prod' }), 'S3_ENDPOINT', /and the bucket in S3_BUCKET, a folder in GRADCAM_STORAGE_PREFIX$/);
  // A path that is not the bucket (a proxy's) is the server's own business.
  const proxied = readWorkerConfig({ ...s3, S3_ENDPOINT: 'https://gateway.example.com/s3' }).storage;
  assert.ok(proxied.kind === 's3' && proxied.endpoint === 'https://gateway.example.com/s3');
});

test('S3_PUBLIC_ENDPOINT: where clients reach the server (presigned URLs are signed for it); a URL, with S3_BUCKET, not naming the bucket', () => {
  const s3 = { ...base, S3_BUCKET: 'gradcam', S3_ENDPOINT: 'http://minio:9000' };
  const storage = readReviewConfig({ ...s3, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789', S3_PUBLIC_ENDPOINT: 'https://files.example.com' }).storage;
  assert.ok(storage.kind === 's3');
  assert.equal(storage.publicEndpoint, 'https://files.example.com');
  assert.equal(storage.endpoint, 'http://minio:9000', 'the services still use S3_ENDPOINT');
  const unset = readIngestConfig(s3).storage;
  assert.ok(unset.kind === 's3' && unset.publicEndpoint === undefined);
  rejectsNaming(() => readIngestConfig({ ...base, S3_PUBLIC_ENDPOINT: 'http://localhost:9000' }), 'S3_BUCKET', /required when S3_PUBLIC_ENDPOINT/);
  rejectsNaming(() => readIngestConfig({ ...s3, S3_PUBLIC_ENDPOINT: 'localhost:9000' }), 'S3_PUBLIC_ENDPOINT', /expected/);
  rejectsNaming(() => readIngestConfig({ ...s3, S3_PUBLIC_ENDPOINT: 'http://localhost:9000/gradcam' }), 'S3_PUBLIC_ENDPOINT', /names the bucket "gradcam"/);
});

test('capture policies: all, none, and OR-ed terms', () => {
  assert.deepEqual(parseCapturePolicy('none'), { text: 'none', all: false, rate: 0, confidenceBelow: 0, classes: [] });
  const policy = parseCapturePolicy('rate=0.1, confidence<0.6, classes=2|3');
  assert.equal(policy.rate, 0.1);
  assert.equal(policy.confidenceBelow, 0.6);
  assert.deepEqual(policy.classes, [2, 3]);
  for (const bad of ['rate=2', 'rate=', 'confidence<x', 'classes=a|b', 'sometimes', '']) {
    assert.throws(() => parseCapturePolicy(bad), (error: unknown) => error instanceof ConfigError && error.variable === 'GRADCAM_CAPTURE_POLICY', bad);
  }
});

test('reviewer tokens: name:token pairs, distinct from ingest tokens', () => {
  const config = readReviewConfig({ ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789,bob@example.com:bob-token-0123456789' });
  assert.equal(config.reviewers.get('alice-token-0123456789'), 'alice');
  assert.equal(config.reviewers.get('bob-token-0123456789'), 'bob@example.com');
  assert.equal(config.port, 8081);
  assert.equal(config.retentionDays, 90);
  assert.equal(config.undoSeconds, 120);
  const reviewers = { ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789' };
  assert.equal(readReviewConfig({ ...reviewers, GRADCAM_REVIEW_UNDO_SECONDS: '0' }).undoSeconds, 0, '0 turns undo off');
  assert.equal(readReviewConfig({ ...reviewers, GRADCAM_REVIEW_UNDO_SECONDS: '30' }).undoSeconds, 30);
  for (const bad of ['-1', '3601', '2m', '1.5']) rejectsNaming(() => readReviewConfig({ ...reviewers, GRADCAM_REVIEW_UNDO_SECONDS: bad }), 'GRADCAM_REVIEW_UNDO_SECONDS', /integer/);
  assert.equal(readReviewConfig({ ...reviewers, GRADCAM_REVIEW_RETENTION_DAYS: '0' }).retentionDays, 0, '0 keeps reviewed items');
  rejectsNaming(() => readReviewConfig({ ...reviewers, GRADCAM_REVIEW_RETENTION_DAYS: '-1' }), 'GRADCAM_REVIEW_RETENTION_DAYS', /./);
  rejectsNaming(() => readReviewConfig(redisOnly), 'GRADCAM_REVIEW_TOKENS', /required/);
  rejectsNaming(() => readReviewConfig({ ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice-token-0123456789' }), 'GRADCAM_REVIEW_TOKENS', /not reviewer:token/);
  rejectsNaming(
    () => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: `carol:${base.GRADCAM_API_TOKENS}` }),
    'GRADCAM_REVIEW_TOKENS',
    /also an ingest token/,
  );
});

test('the URL signing secret: 16+ characters when set; required off loopback for the services that sign', () => {
  rejectsNaming(() => readIngestConfig({ ...base, GRADCAM_URL_SIGNING_SECRET: 'short' }), 'GRADCAM_URL_SIGNING_SECRET', /at least 16 characters/);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_URL_SIGNING_SECRET: 'short' }), 'GRADCAM_URL_SIGNING_SECRET', /at least 16 characters/);
  const { GRADCAM_URL_SIGNING_SECRET: _secret, ...noSecret } = base;
  // The default secret is public: not on 0.0.0.0 (the default host) for ingest and review.
  rejectsNaming(() => readIngestConfig(noSecret), 'GRADCAM_URL_SIGNING_SECRET', /required when GRADCAM_HOST is not a loopback address \(it is 0\.0\.0\.0\)/);
  const reviewTokens = { GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789' };
  rejectsNaming(() => readReviewConfig({ REDIS_URL: base.REDIS_URL, ...reviewTokens, GRADCAM_HOST: '10.0.0.5' }), 'GRADCAM_URL_SIGNING_SECRET', /required/);
  // On loopback (what `npm start` binds) the development default is fine, with zero settings.
  for (const host of ['127.0.0.1', 'localhost', '::1']) {
    const ingest = readIngestConfig({ ...noSecret, GRADCAM_HOST: host });
    assert.ok(ingest.storage.kind === 'local' && ingest.storage.signingSecret.length >= 16, host);
  }
  assert.equal(readReviewConfig({ REDIS_URL: base.REDIS_URL, ...reviewTokens, GRADCAM_HOST: '127.0.0.1' }).storage.kind, 'local');
  // S3 storage signs with S3 credentials; workers and the exporter never sign blob links.
  assert.equal(readIngestConfig({ ...noSecret, S3_BUCKET: 'b' }).storage.kind, 's3');
  assert.equal(readWorkerConfig(noSecret).storage.kind, 'local');
  assert.equal(readExporterConfig(noSecret).storage.kind, 'local');
  const explicit = readIngestConfig(base);
  assert.ok(explicit.storage.kind === 'local' && explicit.storage.signingSecret === base.GRADCAM_URL_SIGNING_SECRET);
});

test('S3 credentials come in pairs', () => {
  rejectsNaming(() => readIngestConfig({ ...base, S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'AKIA' }), 'S3_SECRET_ACCESS_KEY', /required when S3_ACCESS_KEY_ID is set/);
  rejectsNaming(() => readWorkerConfig({ ...base, S3_BUCKET: 'b', S3_SECRET_ACCESS_KEY: 'secret' }), 'S3_ACCESS_KEY_ID', /required when S3_SECRET_ACCESS_KEY is set/);
  const both = readWorkerConfig({ ...base, S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'AKIA', S3_SECRET_ACCESS_KEY: 'secret' });
  assert.ok(both.storage.kind === 's3' && both.storage.accessKeyId === 'AKIA' && both.storage.secretAccessKey === 'secret');
  const neither = readWorkerConfig({ ...base, S3_BUCKET: 'b' });
  assert.ok(neither.storage.kind === 's3' && neither.storage.accessKeyId === undefined, 'the default AWS credential chain');
});

test('worker metrics port: one per replica, whatever the process count; 0 is any free port', () => {
  // The supervisor serves every engine process's metrics on this one port: no range to fit under 65536.
  assert.equal(readWorkerConfig({ ...base, GRADCAM_WORKER_METRICS_PORT: '65535', GRADCAM_WORKER_PROCESSES: '8' }).metricsPort, 65_535);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_WORKER_METRICS_PORT: '0', GRADCAM_WORKER_PROCESSES: '4' }).metricsPort, 0);
  assert.equal(readWorkerConfig(base).metricsPort, 9465);
  rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_WORKER_METRICS_PORT: '65536' }), 'GRADCAM_WORKER_METRICS_PORT', /from 0 to 65535/);
});

test('a stopping worker process has its lock duration plus 5 s to finish', () => {
  assert.equal(readWorkerConfig(base).shutdownTimeoutMs, 65_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_LOCK_DURATION_MS: '1000' }).shutdownTimeoutMs, 6_000);
});

test('an engine call may take GRADCAM_ENGINE_TIMEOUT_SECONDS (600) before its process gives up on it', () => {
  assert.equal(readWorkerConfig(base).engineCallTimeoutMs, 600_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_ENGINE_TIMEOUT_SECONDS: '1' }).engineCallTimeoutMs, 1_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_ENGINE_TIMEOUT_SECONDS: '86400' }).engineCallTimeoutMs, 86_400_000);
  for (const bad of ['0', '86401', '1.5', '10s']) rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_ENGINE_TIMEOUT_SECONDS: bad }), 'GRADCAM_ENGINE_TIMEOUT_SECONDS', /expected an integer/);
});

test('GRADCAM_ENGINE_MAX_RSS_MB: no ceiling by default, else megabytes, up to 1 TiB', () => {
  assert.equal(readWorkerConfig(base).engineMaxRssBytes, 0);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_ENGINE_MAX_RSS_MB: '3072' }).engineMaxRssBytes, 3072 * 1024 * 1024);
  for (const bad of ['-1', '1048577', '2.5', '3g']) rejectsNaming(() => readWorkerConfig({ ...base, GRADCAM_ENGINE_MAX_RSS_MB: bad }), 'GRADCAM_ENGINE_MAX_RSS_MB', /expected an integer/);
});

test('a ready engine process may be silent (event loop blocked) for twice the lock duration, at least 60 s', () => {
  assert.equal(readWorkerConfig(base).heartbeatTimeoutMs, 120_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_LOCK_DURATION_MS: '1000' }).heartbeatTimeoutMs, 60_000);
  assert.equal(readWorkerConfig({ ...base, GRADCAM_LOCK_DURATION_MS: '300000' }).heartbeatTimeoutMs, 600_000);
});

test('every duration is bounded so that each timer derived from it stays within Node\'s 2^31−1 ms (else it fires after 1 ms)', () => {
  // 1,200,000,000 ms of lock once made the heartbeat limit 2.4e9 ms: 1 ms to Node, so the supervisor
  // SIGKILLed every engine process as soon as it was ready.
  for (const variable of ['GRADCAM_LOCK_DURATION_MS', 'GRADCAM_STALLED_INTERVAL_MS']) {
    for (const bad of ['86400001', '1200000000', '3000000000']) rejectsNaming(() => readWorkerConfig({ ...base, [variable]: bad }), variable, /from \d+ to 86400000, got/, `${variable}=${bad}`);
  }
  const longest = readWorkerConfig({
    ...base,
    GRADCAM_LOCK_DURATION_MS: '86400000',
    GRADCAM_STALLED_INTERVAL_MS: '86400000',
    GRADCAM_ENGINE_TIMEOUT_SECONDS: '86400',
    GRADCAM_BATCH_WAIT_MS: '60000',
  });
  assert.equal(longest.lockDurationMs, 86_400_000, 'a day of lock is accepted');
  const workerTimers = {
    heartbeatTimeoutMs: longest.heartbeatTimeoutMs,
    shutdownTimeoutMs: longest.shutdownTimeoutMs,
    // services/worker's supervisor kills an engine process that has not stopped 10 s after that.
    killAfterMs: longest.shutdownTimeoutMs + 10_000,
    lockDurationMs: longest.lockDurationMs,
    stalledIntervalMs: longest.stalledIntervalMs,
    engineCallTimeoutMs: longest.engineCallTimeoutMs,
    batchWaitMs: longest.batchWaitMs,
  };
  for (const [timer, ms] of Object.entries(workerTimers)) assert.ok(ms <= maxTimerMs, `${timer}: ${ms} ms`);
  const review = readReviewConfig({ ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789', GRADCAM_REVIEW_LEASE_SECONDS: '86400', GRADCAM_REVIEW_UNDO_SECONDS: '3600', GRADCAM_PRESIGN_SECONDS: '604800' });
  for (const seconds of [review.leaseSeconds, review.undoSeconds, review.presignSeconds]) assert.ok(seconds * 1000 <= maxTimerMs, `${seconds} s`);
  rejectsNaming(() => readReviewConfig({ ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789', GRADCAM_REVIEW_LEASE_SECONDS: '86401' }), 'GRADCAM_REVIEW_LEASE_SECONDS', /to 86400,/);
  // Retention (3650 days at most) is a Redis PEXPIRE, not a Node timer: milliseconds Redis takes up to 2^63.
  assert.ok(Number.isSafeInteger(readReviewConfig({ ...redisOnly, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789', GRADCAM_REVIEW_RETENTION_DAYS: '3650' }).retentionDays * 86_400_000));
});

test('GRADCAM_HOST is an IP address or a hostname, in every service that listens', () => {
  const reviewTokens = { GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789' };
  const readers = [readIngestConfig, readWorkerConfig, readExporterConfig, readReviewConfig];
  for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1', 'fe80::1', 'localhost', 'worker-1.internal', 'gradcam.example.com.']) {
    for (const read of readers) assert.equal(read({ ...base, ...reviewTokens, GRADCAM_HOST: host }).host, host);
  }
  for (const host of ['not a host', 'under_score.example', '-leading.example', 'a..b', '[::1]', '1.2.3.4:80', 'http://x', `${'a'.repeat(64)}.example`]) {
    for (const read of readers) rejectsNaming(() => read({ ...base, ...reviewTokens, GRADCAM_HOST: host }), 'GRADCAM_HOST', /expected an IP address or a hostname/);
  }
});

test('checkServiceConfigs runs every service reader: a bad service variable is caught before anything starts', () => {
  const env = { ...base, GRADCAM_REVIEW_TOKENS: 'alice:alice-token-0123456789' };
  checkServiceConfigs(env);
  rejectsNaming(() => checkServiceConfigs({ ...env, GRADCAM_CAPTURE_POLICY: 'bogus' }), 'GRADCAM_CAPTURE_POLICY', /unknown term/);
  rejectsNaming(() => checkServiceConfigs({ ...env, GRADCAM_REVIEW_POLICY: 'bogus=1' }), 'GRADCAM_REVIEW_POLICY', /./);
  rejectsNaming(() => checkServiceConfigs({ ...env, GRADCAM_REVIEW_TOKENS: 'bad' }), 'GRADCAM_REVIEW_TOKENS', /not reviewer:token/);
  rejectsNaming(() => checkServiceConfigs({ ...env, GRADCAM_HOST: 'not a host' }), 'GRADCAM_HOST', /IP address or a hostname/);
});

test('loopback hosts', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1', '127.example.com']) assert.ok(!isLoopbackHost(host), host);
});

test('the local stack: embedded defaults with zero settings, and fixed ports only', () => {
  const config = readLocalStackConfig({});
  assert.deepEqual([config.ingestPort, config.exporterPort, config.workerMetricsPort, config.reviewPort], [8080, 9464, 9465, 8081]);
  assert.equal(config.stateDir, '.gradcam');
  assert.deepEqual(config.apiTokens, [], 'none: the stack makes one');
  assert.deepEqual(config.eraseTokens, [], 'none: the stack makes one (erasure is never disabled on it)');
  assert.deepEqual(readLocalStackConfig({ GRADCAM_ERASE_TOKENS: ' ,first-erase-0123456789, first-erase-0123456789' }).eraseTokens, ['first-erase-0123456789']);
  // All of them reach ingest; the first is printed, so an empty entry must not be the first.
  assert.deepEqual(readLocalStackConfig({ GRADCAM_API_TOKENS: ' ,first-token-0123456789, second-token-0123456789' }).apiTokens, ['first-token-0123456789', 'second-token-0123456789']);
  for (const variable of ['GRADCAM_INGEST_PORT', 'GRADCAM_EXPORTER_PORT', 'GRADCAM_WORKER_METRICS_PORT', 'GRADCAM_REVIEW_PORT']) {
    rejectsNaming(() => readLocalStackConfig({ [variable]: '0' }), variable, /fixed port from 1 to 65535/);
    rejectsNaming(() => readLocalStackConfig({ [variable]: '70000' }), variable, /from 1 to 65535/);
  }
  assert.equal(readLocalStackConfig({ GRADCAM_WORKER_METRICS_PORT: '65535', GRADCAM_WORKER_PROCESSES: '8' }).workerMetricsPort, 65_535, 'one port for all the worker processes');
});

test('the local stack gives each service its own port: two set to one port (or one set to another\'s default) is a configuration error naming the one set', () => {
  rejectsNaming(() => readLocalStackConfig({ GRADCAM_INGEST_PORT: '18080', GRADCAM_REVIEW_PORT: '18080' }), 'GRADCAM_REVIEW_PORT', /18080 is also GRADCAM_INGEST_PORT's port; each service of the stack needs its own/);
  rejectsNaming(() => readLocalStackConfig({ GRADCAM_EXPORTER_PORT: '9465' }), 'GRADCAM_EXPORTER_PORT', /9465 is also GRADCAM_WORKER_METRICS_PORT's port/);
  rejectsNaming(() => readLocalStackConfig({ GRADCAM_REVIEW_PORT: '8080' }), 'GRADCAM_REVIEW_PORT', /8080 is also GRADCAM_INGEST_PORT's port/);
  assert.equal(readLocalStackConfig({ GRADCAM_INGEST_PORT: '8081', GRADCAM_REVIEW_PORT: '8080' }).reviewPort, 8080, 'swapped: each its own');
});

test("the local stack refuses the ports fetch will not connect to (its readiness checks and the demo use fetch, browsers the review page)", async () => {
  for (const variable of ['GRADCAM_INGEST_PORT', 'GRADCAM_EXPORTER_PORT', 'GRADCAM_WORKER_METRICS_PORT', 'GRADCAM_REVIEW_PORT']) {
    rejectsNaming(() => readLocalStackConfig({ [variable]: '6000' }), variable, /6000 is a port fetch refuses to connect to .*pick another port/);
  }
  // The list is this Node's own: every port it names is one fetch refuses, and a port next to one is not.
  const refused = async (port: number) =>
    fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }).then(
      () => false,
      (error: unknown) => (error as { cause?: { message?: string } }).cause?.message === 'bad port',
    );
  for (const port of fetchRefusedPorts) assert.ok(await refused(port), `fetch refuses ${port}`);
  for (const port of [6001, 8080, 10081]) {
    assert.equal(await refused(port), false, String(port));
    assert.equal(readLocalStackConfig({ GRADCAM_INGEST_PORT: String(port) }).ingestPort, port);
  }
});
