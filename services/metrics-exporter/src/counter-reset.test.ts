import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesTaken } from './counter-reset.ts';

const exposition = (samples: string[]) => ['# HELP c_total A counter.', '# TYPE c_total counter', ...samples, '# HELP g A gauge.', '# TYPE g gauge', 'g 7', ''].join('\n');

test("SeriesTaken: a series is at 0 until an answer with it was taken; the set holds only series still rendered, so one the registry dropped neither pins memory nor comes back at its value", () => {
  const series = new SeriesTaken(new Set(['c_total']));
  const spaced = 'c_total{code="a b \\"c\\""}';
  const first = series.answer(exposition([`${spaced} 3`, 'c_total{code="z"} 0']));
  assert.equal(first.body, exposition([`${spaced} 0`, 'c_total{code="z"} 0']), 'the value is the last field, whatever the label values hold; other families as they are');
  assert.equal(first.held, 1, 'only a count above 0 is held back');
  assert.equal(first.atValue, 0);
  assert.equal(series.answer(exposition([`${spaced} 3`])).body, exposition([`${spaced} 0`]), 'an answer not taken (yet) changes nothing');
  first.taken();
  const second = series.answer(exposition([`${spaced} 4`]));
  assert.equal(second.body, exposition([`${spaced} 4`]));
  assert.equal(second.held, 0);
  assert.equal(second.atValue, 1);
  // c_total{code="z"} is no longer rendered: dropped from the set, so when it comes back it starts at 0 again.
  const back = series.answer(exposition([`${spaced} 4`, 'c_total{code="z"} 2']));
  assert.equal(back.body, exposition([`${spaced} 4`, 'c_total{code="z"} 0']));
  assert.equal(back.held, 1);
  assert.equal(back.atValue, 1);
});
