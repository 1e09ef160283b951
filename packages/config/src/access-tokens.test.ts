import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLocalStackConfig } from './local-stack-config.ts';
import { checkServiceConfigs, readIngestConfig, readReviewConfig } from './service-configs.ts';
import { rejectsNaming } from './test-support/rejects-naming.ts';

const base = { REDIS_URL: 'redis://127.0.0.1:6379', GRADCAM_URL_SIGNING_SECRET: 'test-signing-secret-0123' };
const apiToken = 'token-aaaaaaaaaaaaaaaa';

test('a reviewer token given to two entries is refused without printing it: verdicts would be recorded under the wrong name', () => {
  const shared = 'shared-secret-token-0123';
  for (const tokens of [`alice:${shared},bob:${shared}`, `alice:${shared},carol:carol-token-0123456789,alice:${shared}`]) {
    rejectsNaming(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: tokens }), 'GRADCAM_REVIEW_TOKENS', /^GRADCAM_REVIEW_TOKENS: entries 1 \(alice\) and [23] \((bob|alice)\) have the same token/, tokens);
    assert.throws(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: tokens }), (error: Error) => !error.message.includes('shared-secret'), 'the token is not echoed');
    rejectsNaming(() => checkServiceConfigs({ ...base, GRADCAM_API_TOKENS: apiToken, GRADCAM_REVIEW_TOKENS: tokens }), 'GRADCAM_REVIEW_TOKENS', /same token/);
  }
  // One reviewer with two tokens (rotating one) is fine: each token still names one reviewer.
  const rotating = readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: 'alice:alice-old-token-0123,alice:alice-new-token-0123,bob:bob-token-0123456789' });
  assert.deepEqual([...rotating.reviewers], [
    ['alice-old-token-0123', 'alice'],
    ['alice-new-token-0123', 'alice'],
    ['bob-token-0123456789', 'bob'],
  ]);
});

test('a malformed reviewer entry is named by its number, not printed: it may be a token', () => {
  for (const [tokens, entry] of [
    ['alice:alice-token-0123456789,secret-token-without-a-name', '2 of 2'],
    ['alice:short-secret', '1 of 1'],
    ['bad name:secret-token-0123456789', '1 of 1'],
  ] as const) {
    rejectsNaming(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: tokens }), 'GRADCAM_REVIEW_TOKENS', new RegExp(`entry ${entry} is not reviewer:token`), tokens);
    assert.throws(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: tokens }), (error: Error) => !error.message.includes('secret'), 'no part of the entry is echoed');
  }
});

test('empty list entries are skipped in every token list, as in every list variable; the local stack never hands on an empty first entry', () => {
  const reviewers = readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: ' ,alice:alice-token-0123456789,, bob:bob-token-0123456789 ,' }).reviewers;
  assert.deepEqual([...reviewers.values()], ['alice', 'bob']);
  rejectsNaming(() => readReviewConfig({ ...base, GRADCAM_REVIEW_TOKENS: ' , ' }), 'GRADCAM_REVIEW_TOKENS', /is required/);
  // The stack prints the first entry's token and logs the reviewer in with it.
  assert.equal(readLocalStackConfig({ GRADCAM_REVIEW_TOKENS: ',alice:alice-token-0123456789' }).reviewTokens, 'alice:alice-token-0123456789');
  assert.equal(readLocalStackConfig({ GRADCAM_REVIEW_TOKENS: ' alice:alice-token-0123456789 , ,bob:bob-token-0123456789' }).reviewTokens, 'alice:alice-token-0123456789,bob:bob-token-0123456789');
  assert.equal(readLocalStackConfig({ GRADCAM_REVIEW_TOKENS: ' , ' }).reviewTokens, undefined, 'naming none: the stack generates one');
  assert.equal(readLocalStackConfig({}).reviewTokens, undefined);
});

test('an API token given twice is kept once: every API token grants the same access, so the repeat adds and loses nothing', () => {
  const second = 'token-bbbbbbbbbbbbbbbb';
  assert.deepEqual(readIngestConfig({ ...base, GRADCAM_API_TOKENS: `${apiToken},${second},${apiToken}` }).apiTokens, [apiToken, second]);
  assert.deepEqual(readLocalStackConfig({ GRADCAM_API_TOKENS: `${apiToken}, ${apiToken},${second}` }).apiTokens, [apiToken, second]);
});
