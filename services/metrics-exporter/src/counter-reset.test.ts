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

test('SeriesTaken: however answers overlap (one computed before the last one\'s taken() ran, taken late, in any order, or never), no answer shows a series at 0 after an earlier one showed it at its value, and one taken shows all its series at value next', () => {
  // A seeded walk: counts grow, series are born, answers are computed and taken (or not) in random order.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let run = 0; run < 200; run++) {
    const series = new SeriesTaken(new Set(['c_total']));
    const counts = new Map<string, number>([['c_total{code="a"}', 0]]);
    const shownAtValue = new Set<string>();
    const pending: { taken: () => void; keys: string[] }[] = [];
    for (let step = 0; step < 30; step++) {
      const roll = random();
      if (roll < 0.3) {
        const key = `c_total{code="${String.fromCharCode(97 + Math.floor(random() * 5))}"}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } else if (roll < 0.6) {
        const shown = series.answer(exposition([...counts].map(([key, value]) => `${key} ${value}`)));
        for (const line of shown.body.split('\n').filter((l) => l.startsWith('c_total{'))) {
          const key = line.slice(0, line.lastIndexOf(' '));
          if (line.endsWith(' 0') && (counts.get(key) ?? 0) > 0) assert.ok(!shownAtValue.has(key), `${key} at 0 after an answer at its value (run ${run}, step ${step})`);
          else if (!line.endsWith(' 0')) shownAtValue.add(key);
        }
        pending.push({ taken: shown.taken, keys: [...counts.keys()] });
      } else if (pending.length > 0) {
        const [answer] = pending.splice(Math.floor(random() * pending.length), 1);
        if (answer && random() < 0.8) {
          answer.taken();
          const next = series.answer(exposition([...counts].map(([key, value]) => `${key} ${value}`)));
          for (const key of answer.keys) assert.ok(next.body.includes(`${key} ${counts.get(key)}\n`), `${key} at its value once an answer with it was taken`);
        }
      }
    }
  }
});
