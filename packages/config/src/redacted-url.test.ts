import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactedUrl } from './redacted-url.ts';

test('a URL in a message keeps everything but its password', () => {
  for (const [url, shown] of [
    ['redis://:secret@127.0.0.1:6380/2', 'redis://:***@127.0.0.1:6380/2'],
    ['rediss://user:secret@db.internal', 'rediss://user:***@db.internal'],
    ['redis://secret@db.internal', 'redis://***@db.internal'],
    ['redis://:p@ss@db.internal', 'redis://:***@db.internal'],
    // Not parseable URLs are quoted by the errors that refuse them.
    ['rediss://user:secret@[bad', 'rediss://user:***@[bad'],
    ['redis::secret@host', 'redis::***@host'],
    ['redis://db.internal:6380', 'redis://db.internal:6380'],
    ['http://minio:9000', 'http://minio:9000'],
    ['not a url', 'not a url'],
  ]) {
    assert.equal(redactedUrl(url!), shown, url);
  }
});
