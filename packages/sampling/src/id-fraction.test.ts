import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idFraction, idSalts } from './id-fraction.ts';
import { patternedIds } from './testing/patterned-ids.ts';

test('the same id and salt give the same fraction, in [0, 1)', () => {
  for (const id of ['', 'a', 'req-42', 'x'.repeat(128), 'ünïcødé-✓']) {
    const f = idFraction(id, idSalts.rate);
    assert.equal(idFraction(id, idSalts.rate), f);
    assert.ok(f >= 0 && f < 1, `${id} → ${f}`);
  }
});

test('fractions of sequential ids are uniform, and independent across salts', () => {
  const n = 200_000;
  const deciles = new Array<number>(10).fill(0);
  let both = 0;
  for (let i = 0; i < n; i++) {
    const id = `req-${i}`;
    const a = idFraction(id, idSalts.rate);
    const b = idFraction(id, idSalts.classQuota);
    deciles[Math.floor(a * 10)]! += 1;
    if (a < 0.1 && b < 0.1) both++;
  }
  // 10% of 200k = 20 000 per decile; binomial sd ≈ 134, allow ~4 sd.
  for (const count of deciles) assert.ok(Math.abs(count - n / 10) < 550, `decile count ${count}`);
  // Independent: P(a < 0.1 and b < 0.1) = 1%, 2000 ± 44.
  assert.ok(Math.abs(both - n / 100) < 200, `joint ${both}`);
});

test('rate=R draws a share R of patterned ids (zero-padded, uuid v1/v7), within 6 standard deviations', () => {

  const n = 100_000;
  for (const rate of [0.1, 0.01]) {
    const sd = Math.sqrt(n * rate * (1 - rate));
    for (const [name, id] of Object.entries(patternedIds)) {
      for (const [saltName, salt] of Object.entries(idSalts)) {
        let drawn = 0;
        for (let i = 0; i < n; i++) if (idFraction(id(i), salt) < rate) drawn++;
        assert.ok(Math.abs(drawn - n * rate) < 6 * sd, `rate ${rate}, ${name}, salt ${saltName}: ${drawn} of ${n}`);
      }
    }
  }
});
