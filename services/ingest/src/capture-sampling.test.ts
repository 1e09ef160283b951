import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { decideCapture, idFraction } from './capture-sampling.ts';

const n = 100_000;
const hex = (x: number, width: number) => x.toString(16).padStart(width, '0');

/** Id schemes clients use: sequential, zero-padded, time-ordered uuids (v1: timestamp first, low bits varying; v7: ms prefix). */
const schemes: Record<string, (i: number) => string> = {
  'req-i': (i) => `req-${i}`,
  'img-000001': (i) => `img-${String(i).padStart(6, '0')}`,
  'uuid v1': (i) => {
    const t = (0x1ed5a0000000000n + BigInt(i) * 10n).toString(16).padStart(15, '0');
    return `${t.slice(7)}-${t.slice(3, 7)}-1${t.slice(0, 3)}-8000-00155d000001`;
  },
  'uuid v7': (i) => {
    const ms = hex(1_700_000_000_000 + Math.floor(i / 4), 12);
    return `${ms.slice(0, 8)}-${ms.slice(8)}-7${hex(i % 4096, 3)}-8000-${hex((i * 7919) % 2 ** 24, 12)}`;
  },
};

test('rate=R explains a share R of patterned ids, within 6 standard deviations (ids fixed: it cannot flake)', () => {
  for (const rate of [0.1, 0.01]) {
    const policy = parseCapturePolicy(`rate=${rate}`);
    const sd = Math.sqrt(n * rate * (1 - rate));
    for (const [name, id] of Object.entries(schemes)) {
      let explained = 0;
      for (let i = 0; i < n; i++) if (decideCapture(policy, id(i), undefined).explain) explained++;
      assert.ok(Math.abs(explained - n * rate) < 6 * sd, `rate=${rate}, ${name}: ${explained} of ${n}`);
    }
  }
});

test('the decision is a function of the id: the same on a retry, and fractions lie in [0, 1)', () => {
  const policy = parseCapturePolicy('rate=0.5');
  for (let i = 0; i < 1000; i++) {
    const id = `req-${i}`;
    assert.deepEqual(decideCapture(policy, id, undefined), decideCapture(parseCapturePolicy('rate=0.5'), id, undefined));
    const f = idFraction(id);
    assert.ok(f >= 0 && f < 1, `${id}: ${f}`);
  }
});

test('rate=1 explains every id, rate=0 and rate=1e-9 none of these', () => {
  for (const [text, expected] of [['rate=1', n], ['rate=0', 0], ['rate=1e-9', 0]] as const) {
    const policy = parseCapturePolicy(text);
    let explained = 0;
    for (let i = 0; i < n; i++) if (decideCapture(policy, `req-${i}`, undefined).explain) explained++;
    assert.equal(explained, expected, text);
  }
});
