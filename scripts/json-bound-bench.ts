/**
 * `npm run bench:json-bound`: what the bounds on a JSON body (registerBoundedJsonParser) save and
 * cost, on this machine. For bodies of 64 MiB (the ingest body limit) it prints how long JSON.parse
 * holds the event loop, and how long jsonCounts takes to pass or refuse them; and how long the
 * parser's strict UTF-8 decode (utf8Text) takes beside the replacing one Fastify's parser did
 * (Buffer toString).
 */
import { randomBytes } from 'node:crypto';
import { jsonBounds, jsonCounts, utf8Text } from '@gradcam/http-service';

const size = 64 * 1024 * 1024;
const fill = (unit: (i: number) => string, open: string, close: string) => {
  const parts: string[] = [];
  let length = open.length + close.length;
  for (let i = 0; length < size; i++) {
    const part = unit(i);
    parts.push(part);
    length += part.length + 1;
  }
  return `${open}${parts.join(',')}${close}`;
};
const bodies: [string, () => string][] = [
  ['keys {"k0":0,…}', () => fill((i) => `"k${i}":0`, '{', '}')],
  ['empty arrays [[],…]', () => fill(() => '[]', '[', ']')],
  ['strings with an escape ["\\\\",…]', () => fill(() => '"\\\\"', '[', ']')],
  ['numbers [0.123456,…]', () => fill(() => '0.123456', '[', ']')],
  ['one inline image (32 MiB, base64)', () => JSON.stringify({ id: 'x', model: { name: 'm' }, image: { base64: randomBytes(32 * 1024 * 1024).toString('base64') } })],
];
const ms = (from: number) => `${(performance.now() - from).toFixed(1)} ms`;
console.log(`bounds: ${jsonBounds.structures} keys, objects and arrays; ${jsonBounds.strings} strings`);
console.log('| body | MiB | JSON.parse | count | structures | strings | refused | toString | utf8Text |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
for (const [name, make] of bodies) {
  const text = make();
  jsonCounts(text); // warm up the scan
  let from = performance.now();
  const counts = jsonCounts(text);
  const countTime = ms(from);
  from = performance.now();
  JSON.parse(text);
  const parseTime = ms(from);
  const refused = counts.structures > jsonBounds.structures || counts.strings > jsonBounds.strings;
  const bytes = Buffer.from(text);
  from = performance.now();
  bytes.toString('utf8');
  const replacingTime = ms(from);
  from = performance.now();
  utf8Text(bytes, 'the body');
  const strictTime = ms(from);
  console.log(`| ${name} | ${(text.length / 1024 / 1024).toFixed(0)} | ${parseTime} | ${countTime} | ${counts.structures} | ${counts.strings} | ${refused ? 'yes' : 'no'} | ${replacingTime} | ${strictTime} |`);
}
