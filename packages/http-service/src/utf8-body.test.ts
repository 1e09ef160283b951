import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { ApiError, registerServiceDefaults, requestErrorAnswer, sendApiError, serviceServerOptions } from './index.ts';
import { declaredCharset, invalidUtf8Offset } from './utf8-body.ts';

type ErrorBody = { error: { code: string; message: string } };
const bodyLimit = 1024 * 1024;

/** A listening app whose POST /value answers the JSON body it parsed. */
async function listening() {
  const app = Fastify({ ...serviceServerOptions({ bodyLimit }), logger: false });
  registerServiceDefaults(app);
  app.setErrorHandler(async (error, _request, reply) => sendApiError(reply, error instanceof ApiError ? error : (requestErrorAnswer(error, bodyLimit) ?? new ApiError(500, 'INTERNAL', 'internal'))));
  app.post('/value', async (request) => ({ value: request.body }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = (app.server.address() as AddressInfo).port;
  /** POSTs `bytes` as they are, with `contentType`. */
  const post = (contentType: string, bytes: Buffer) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/value', headers: { 'content-type': contentType, 'content-length': bytes.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(bytes);
    });
  return { app, post };
}

const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('a JSON body is UTF-8', () => {
  test('a Content-Type naming another charset is 415 CHARSET_UNSUPPORTED, naming it; UTF-8, however written, is parsed', async () => {
    const { app, post } = await listening();
    try {
      for (const [contentType, bytes, named] of [
        ['application/json; charset=iso-8859-1', latin1('{"name":"M\u00fcller"}'), 'iso-8859-1'],
        ['application/json;charset="UTF-16LE"', Buffer.from('{"name":"M\u00fcller"}', 'utf16le'), 'utf-16le'],
        ['Application/JSON; CHARSET=windows-1252', latin1('{"name":"M\u00fcller"}'), 'windows-1252'],
      ] as const) {
        const answer = await post(contentType, bytes);
        assert.equal(answer.status, 415, `${contentType}: ${answer.body}`);
        assert.deepEqual(JSON.parse(answer.body), { error: { code: 'CHARSET_UNSUPPORTED', message: `JSON bodies must be UTF-8; got charset=${named}` } });
      }
      for (const contentType of ['application/json', 'application/json; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8']) {
        const answer = await post(contentType, Buffer.from('{"name":"M\u00fcller \u{1F411}"}'));
        assert.equal(answer.status, 200, `${contentType}: ${answer.body}`);
        assert.deepEqual(JSON.parse(answer.body), { value: { name: 'M\u00fcller \u{1F411}' } }, contentType);
      }
    } finally {
      await app.close();
    }
  });

  test('bytes that are not UTF-8 are 400 BODY_NOT_UTF8 naming the offset of the first, never stored as U+FFFD', async () => {
    const { app, post } = await listening();
    try {
      for (const [label, bytes, offset] of [
        ['Latin-1 ü without a charset', latin1('{"name":"M\u00fcller"}'), 10],
        ['an overlong "/" (C0 AF)', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 6],
        ['a UTF-16 surrogate (ED A0 80)', Buffer.concat([Buffer.from('{"a":"\u00e9'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 8],
        ['a character cut short at the end', Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([0xe2, 0x82])]), 7],
      ] as const) {
        const answer = await post('application/json', bytes);
        assert.equal(answer.status, 400, `${label}: ${answer.body}`);
        const { error } = JSON.parse(answer.body) as ErrorBody;
        assert.equal(error.code, 'BODY_NOT_UTF8', label);
        assert.equal(error.message, `the JSON body is not valid UTF-8 (its first bad byte is at offset ${offset}); send UTF-8`, label);
      }
    } finally {
      await app.close();
    }
  });

  test('a byte-order mark is dropped; the body limit and the bound on structures still hold', async () => {
    const { app, post } = await listening();
    try {
      const withBom = await post('application/json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"\u00e9"}')]));
      assert.deepEqual([withBom.status, JSON.parse(withBom.body)], [200, { value: { a: '\u00e9' } }]);
      const tooLarge = await post('application/json', Buffer.from(`{"a":"${'x'.repeat(bodyLimit)}"}`));
      assert.deepEqual([tooLarge.status, (JSON.parse(tooLarge.body) as ErrorBody).error.code], [413, 'BODY_TOO_LARGE']);
      const dense = await post('application/json', Buffer.from(`[${'[],'.repeat(250_000)}[]]`));
      assert.deepEqual([dense.status, (JSON.parse(dense.body) as ErrorBody).error.code], [400, 'BODY_TOO_COMPLEX']);
    } finally {
      await app.close();
    }
  });
});

test('declaredCharset: the charset parameter, unquoted and lower-cased, wherever it stands', () => {
  assert.equal(declaredCharset('application/json'), undefined);
  assert.equal(declaredCharset(undefined), undefined);
  assert.equal(declaredCharset('application/json; charset=UTF-8'), 'utf-8');
  assert.equal(declaredCharset('application/json;foo=bar; Charset="ISO-8859-1" ;x=y'), 'iso-8859-1');
  assert.equal(declaredCharset('application/json; charset=""'), '');
});

test('invalidUtf8Offset agrees with a decoder on where the first bad byte is, a fault past the first 64 KiB window and characters across windows included', () => {
  // A reference: the bytes before the first U+FFFD a replacing decoder writes (the text holds none of its own).
  const reference = (bytes: Buffer) => {
    const text = new TextDecoder('utf-8').decode(bytes);
    const at = text.indexOf('\uFFFD');
    return at === -1 ? bytes.length : Buffer.byteLength(text.slice(0, at));
  };
  const alphabet = ['a', '\u00e9', '\u20ac', '\u{1F411}', '{', '"'];
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
  for (let round = 0; round < 60; round++) {
    const text = Array.from({ length: 30_000 + random(20_000) }, () => alphabet[random(alphabet.length)]).join('');
    const bytes = Buffer.from(text);
    if (round % 3 === 0) {
      assert.equal(invalidUtf8Offset(bytes), bytes.length, 'valid text has no bad byte');
      continue;
    }
    // One to three bad bytes (a lone continuation byte, 0xff, a lead byte with no continuation) anywhere.
    for (let k = 0; k <= random(3); k++) bytes[random(bytes.length)] = [0x80, 0xff, 0xe2, 0xc3][random(4)] as number;
    assert.equal(invalidUtf8Offset(bytes), reference(bytes), `round ${round}`);
  }
});
