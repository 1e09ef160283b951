import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCapturePolicy } from '@gradcam/config';
import { patternedIds } from '@gradcam/sampling/testing';
import { decideCapture, idFraction } from './capture-sampling.ts';

const n = 100_000;

test('rate=R explains a share R of patterned ids, within 6 standard deviations (ids fixed: it cannot flake)', () => {
  for (const rate of [0.1, 0.01]) {
    const policy = parseCapturePolicy(`rate=${rate}`);
    const sd = Math.sqrt(n * rate * (1 - rate));
    for (const [name, id] of Object.entries(patternedIds)) {
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
