import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodedBase64Length } from './inline-image.ts';

test('decodedBase64Length is the exact decoded length, padded or not', () => {
  for (let bytes = 0; bytes <= 7; bytes++) {
    const encoded = Buffer.alloc(bytes, 0xab).toString('base64');
    assert.equal(decodedBase64Length(encoded), bytes, encoded);
    assert.equal(decodedBase64Length(encoded.replace(/=+$/, '')), bytes, `${encoded} unpadded`);
  }
});
