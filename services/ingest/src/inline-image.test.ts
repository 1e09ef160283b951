import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ApiError } from '@gradcam/http-service';
import { decodeInlineImage, decodedBase64Length } from './inline-image.ts';

test('decodedBase64Length is the exact decoded length, padded or not', () => {
  for (let bytes = 0; bytes <= 7; bytes++) {
    const encoded = Buffer.alloc(bytes, 0xab).toString('base64');
    assert.equal(decodedBase64Length(encoded), bytes, encoded);
    assert.equal(decodedBase64Length(encoded.replace(/=+$/, '')), bytes, `${encoded} unpadded`);
  }
});

test('image.base64 that is not base64 on one line: IMAGE_BASE64_INVALID names the cause (all were "not valid base64")', () => {
  const photo = readFileSync(new URL('../../../test/fixtures/images/sheep-pastoral.jpg', import.meta.url));
  const base64 = photo.toString('base64');
  assert.equal(decodeInlineImage(base64).contentType, 'image/jpeg');
  const cases: [string, RegExp][] = [
    [`data:image/jpeg;base64,${base64}`, /^image\.base64 starts with a data URL prefix \("data:image\/jpeg;base64,"\): send only what follows the comma$/],
    [` ${base64}\n`, /whitespace before or after it/],
    [base64.replace(/(.{76})/g, '$1\n'), /holds line breaks: send it on one line/],
    [base64.replace(/(.{76})/g, '$1\r\n'), /holds line breaks/],
    [base64.replaceAll('+', '-').replaceAll('/', '_'), /holds "-" or "_", which is base64url/],
    [`${base64.slice(0, 10)} ${base64.slice(10)}`, /holds a character base64 does not use \(U\+0020 " " at offset 10\)/],
    [`${base64.slice(0, 8)}é${base64.slice(8)}`, /\(U\+00E9 "é" at offset 8\)/],
    [`${base64}===`, /"=" is padding/],
    [`AAAA=AAAA`, /"=" is padding/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => decodeInlineImage(value), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual([error.status, error.code], [422, 'IMAGE_BASE64_INVALID']);
      assert.match(error.message, message);
      return true;
    }, JSON.stringify(value.slice(0, 40)));
  }
});
