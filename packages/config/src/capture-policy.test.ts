import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from './config-error.ts';
import { parseCapturePolicy } from './capture-policy.ts';

function rejects(text: string, pattern: RegExp) {
  assert.throws(
    () => parseCapturePolicy(text),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, text);
      assert.equal(error.variable, 'GRADCAM_CAPTURE_POLICY');
      assert.match(error.message, pattern, text);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('a term given twice is refused, naming it, instead of replacing the first', () => {
  rejects('rate=0.1,classes=1,classes=2', /"classes=2": "classes=" is given twice/);
  rejects('rate=0.1,rate=0.5', /"rate=0.5": "rate=" is given twice/);
  rejects('confidence<0.5, confidence<0.6', /"confidence<0.6": "confidence<" is given twice/);
  assert.deepEqual(parseCapturePolicy('rate=0.1,classes=1|2').classes, [1, 2]);
});

test('numbers are decimal: hexadecimal, binary, Infinity and inner spaces are refused', () => {
  for (const text of ['rate=0x1', 'rate=0b1', 'confidence<0o1', 'rate=Infinity', 'rate= 0.1', 'rate=+0.1', 'rate=-0', 'rate=.']) {
    rejects(text, /expected a decimal number from 0 to 1/);
  }
  assert.equal(parseCapturePolicy('rate=.5').rate, 0.5);
  assert.equal(parseCapturePolicy('rate=1e-3').rate, 0.001);
  assert.equal(parseCapturePolicy('confidence<1').confidenceBelow, 1);
});

test('all and none stand alone: joined to other terms they are refused as such, not as unknown terms', () => {
  // Was: unknown term "all"; use all, none, … (telling the operator to use what they had written).
  rejects('all,rate=0.1', /"all" stands alone/);
  rejects('rate=0.1, none', /"none" stands alone/);
  rejects('all,none', /"all" stands alone/);
  rejects('all,all', /"all" stands alone/);
  assert.equal(parseCapturePolicy(' all ').all, true);
  assert.equal(parseCapturePolicy('none,').all, false);
});
