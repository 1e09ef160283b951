import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBearerAuth } from './bearer-tokens.ts';

test('a known bearer token resolves to its identity; anything else to undefined', () => {
  const auth = createBearerAuth(new Map([['alice-token-0123456789', 'alice'], ['bob-token-0123456789', 'bob']]));
  assert.equal(auth('Bearer alice-token-0123456789'), 'alice');
  assert.equal(auth('bearer   bob-token-0123456789 '), 'bob');
  for (const header of [undefined, '', 'Bearer', 'Bearer alice-token-012345678', 'Basic alice-token-0123456789', 'Bearer alice-token-0123456789 extra']) {
    assert.equal(auth(header), undefined, String(header));
  }
});
