import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlidingWindowRate } from './sliding-window-rate.ts';

const second = 1000;
const minute = 60 * second;

test('a steady rate is measured exactly, and a 10× step is fully seen one window later', () => {
  const rate = new SlidingWindowRate(10 * minute);
  let t = 0;
  for (; t < 20 * minute; t += second) rate.record(t);
  assert.ok(Math.abs((rate.ratePerHour(t) as number) - 3600) < 3600 * 0.01);
  const stepAt = t;
  for (; t < stepAt + 5 * minute; t += second / 10) rate.record(t);
  const halfway = rate.ratePerHour(t) as number;
  assert.ok(halfway > 3600 * 4 && halfway < 36_000 * 0.7, `halfway ${halfway}`);
  for (; t < stepAt + 10 * minute + second; t += second / 10) rate.record(t);
  assert.ok(Math.abs((rate.ratePerHour(t) as number) - 36_000) < 36_000 * 0.02, `${rate.ratePerHour(t)}`);
});

test('before a full window only the time since the first event counts, at least one bucket', () => {
  const rate = new SlidingWindowRate(10 * minute);
  assert.equal(rate.ratePerHour(0), undefined);
  rate.record(5 * second);
  // One event, at least one 30 s bucket: 120/h, not infinity.
  assert.equal(rate.ratePerHour(5 * second), 120);
  for (let t = 6 * second; t < 2 * minute; t += second) rate.record(t);
  assert.ok(Math.abs((rate.ratePerHour(2 * minute) as number) - 3600) < 3600 * 0.03);
});

test('a quiet spell longer than the window empties it; timestamps from the past count as now', () => {
  const rate = new SlidingWindowRate(10 * minute);
  for (let t = 0; t < minute; t += second) rate.record(t);
  assert.equal(rate.ratePerHour(30 * minute), 0);
  assert.equal(rate.events(30 * minute), 0);
  rate.record(30 * minute);
  rate.record(29 * minute);
  // Both count in the newest bucket. Two events a minute apart after a 29 min quiet spell are
  // plausible as sparse traffic (one per spell), so the spell counts as covered: 2 over the
  // window's span (9.5 min), not 2 over one bucket (240/h) as for a fresh stream.
  assert.equal(rate.events(30 * minute), 2);
  assert.equal(rate.ratePerHour(30 * minute), (2 / 9.5) * 60);
});

test('events a window or more apart are read at about one per quiet spell, not as a fresh stream each time', () => {
  // Each one finds the window empty. Read from its own first event, one event counted as one per
  // 30 s bucket (120/h), whatever the traffic: a budget of K = 10/h reviewed 15 of 192 events of a
  // model seen every 15 min.
  const rate = new SlidingWindowRate(10 * minute);
  for (let t = 0; t <= 2 * 60 * minute; t += 15 * minute) rate.record(t);
  // The whole spell counts, not at most a window: one per 15 minutes is 4/h (6/h when the spell
  // was capped at the window, which cannot read less than one per window).
  const lone = rate.ratePerHour(2 * 60 * minute) as number;
  assert.ok(Math.abs(lone - 4) < 1e-9, `one event after a 15 min spell: ${lone}/h`);
  // A batch decided at one instant is one arrival: 8 over the hour's spell, 8/h (was 960/h read
  // as a fresh stream, ~50/h with the spell capped at the window).
  for (let i = 0; i < 8; i++) rate.record(3 * 60 * minute);
  const batch = rate.ratePerHour(3 * 60 * minute) as number;
  assert.ok(Math.abs(batch - 8) < 1e-9, `a batch of 8 after a spell: ${batch}/h`);
  // A second event a minute later is still plausible as sparse traffic.
  rate.record(3 * 60 * minute + minute);
  assert.ok((rate.ratePerHour(3 * 60 * minute + minute) as number) < 60);
  // A spell counts up to a day.
  rate.record(3 * 24 * 60 * minute);
  assert.ok(Math.abs((rate.ratePerHour(3 * 24 * 60 * minute) as number) - 1 / 24) < 1e-9, 'one event after two days: one a day');
});

test('traffic back after a quiet spell is read as a fresh stream as soon as it comes too fast for sparse traffic', () => {
  // The quiet spell stops counting once the events after the first instant have under a 1/1000
  // chance at one per spell: at 10 events/s from the second event (0.1 s), 1 s apart from the third.
  for (const [gap, freshFrom] of [[second / 10, 2], [second, 3]] as const) {
    const rate = new SlidingWindowRate(10 * minute);
    const fresh = new SlidingWindowRate(10 * minute);
    rate.record(0);
    const resume = 60 * minute;
    for (let i = 0; i < 30; i++) {
      const t = resume + i * gap;
      rate.record(t);
      fresh.record(t);
      const [measured, expected] = [rate.ratePerHour(t) as number, fresh.ratePerHour(t) as number];
      if (i + 1 >= freshFrom) assert.equal(measured, expected, `${gap} ms apart, event ${i + 1}`);
      else assert.ok(measured < expected / 10, `${gap} ms apart, event ${i + 1}: ${measured}/h, fresh ${expected}/h`);
    }
  }
});

test('traffic back after a pause of a window or more is measured from its own first events', () => {
  // An hour at 1/s, a pause, then 10/s. With the first instant of the hour before kept, the
  // window counted as fully covered: 10 s in, 100 events over 10 min read 621/h (truth 36,000/h),
  // and a budget dividing by it reviewed about ten times its share.
  for (const pause of [12 * 60 * minute, 15 * minute, 10 * minute]) {
    const rate = new SlidingWindowRate(10 * minute);
    const fresh = new SlidingWindowRate(10 * minute);
    for (let t = 0; t < 60 * minute; t += second) rate.record(t);
    const resume = 60 * minute + pause;
    for (let t = resume; t < resume + 10 * second; t += second / 10) {
      rate.record(t);
      fresh.record(t);
    }
    const measured = rate.ratePerHour(resume + 10 * second) as number;
    assert.ok(Math.abs(measured / 36_000 - 1) <= 0.2, `after a ${pause / minute} min pause: ${measured.toFixed(0)}/h`);
    assert.equal(measured, fresh.ratePerHour(resume + 10 * second));
  }
  // A pause shorter than the window is part of the window's traffic: the rate counts it.
  const rate = new SlidingWindowRate(10 * minute);
  for (let t = 0; t < 60 * minute; t += second) rate.record(t);
  for (let t = 65 * minute; t < 65 * minute + 10 * second; t += second / 10) rate.record(t);
  assert.ok((rate.ratePerHour(65 * minute + 10 * second) as number) < 36_000 / 2);
});

test('a stamp ahead of the clock, then the clock corrected: the window rebases instead of growing without bound', () => {
  // A worker clock stepped forward for one decision, then NTP set it back. Every later event was
  // more than a window behind the newest bucket and landed in it: 30 min after a +1 h stamp the
  // rate read 113,691/h, after a +6 h one it kept growing (8,640,120/h) for six hours.
  const run = (ahead: number | undefined) => {
    const rate = new SlidingWindowRate(10 * minute);
    let t = 0;
    for (; t < 10 * minute; t += second / 10) rate.record(t);
    if (ahead !== undefined) rate.record(t + ahead);
    for (const end = t + 30 * minute; t < end; t += second / 10) rate.record(t);
    return { perHour: rate.ratePerHour(t) as number, events: rate.events(t) };
  };
  const steady = run(undefined);
  for (const ahead of [60 * minute, 6 * 60 * minute, 365 * 24 * 60 * minute]) {
    const stepped = run(ahead);
    assert.ok(Math.abs(stepped.perHour / 36_000 - 1) <= 0.01, `+${ahead / minute} min stamp: ${stepped.perHour.toFixed(0)}/h 30 min later`);
    // The window holds what it would have without the stamp ahead (rebased onto whole buckets).
    assert.ok(Math.abs(stepped.events - steady.events) <= 1, `${stepped.events} events vs ${steady.events}`);
  }
  // A clock set back for good (no stamp ahead before it) rebases the same way.
  const rate = new SlidingWindowRate(10 * minute);
  let t = 6 * 60 * minute;
  for (const end = t + 10 * minute; t < end; t += second / 10) rate.record(t);
  t -= 6 * 60 * minute;
  for (const end = t + 5 * minute; t < end; t += second / 10) rate.record(t);
  assert.ok(Math.abs((rate.ratePerHour(t) as number) / 36_000 - 1) <= 0.01, `${rate.ratePerHour(t)}`);
  // A late event within a window still counts in the newest bucket, and moves nothing.
  rate.record(t - 5 * minute);
  assert.ok(Math.abs((rate.ratePerHour(t) as number) / 36_000 - 1) <= 0.01, `${rate.ratePerHour(t)}`);
});

test('recent() looks at the newest buckets only and sees a step at once', () => {
  const rate = new SlidingWindowRate(10 * minute);
  let t = 0;
  for (; t < 20 * minute; t += second) rate.record(t);
  for (const end = t + minute; t < end; t += second / 10) rate.record(t);
  // Two 30 s buckets, the newest just begun: ~30 s of 10/s.
  const recent = rate.recent(t, 2) as { events: number; perHour: number };
  assert.ok(Math.abs(recent.perHour - 36_000) < 36_000 * 0.05, `${recent.perHour}`);
  assert.ok((rate.ratePerHour(t) as number) < 10_000);
  assert.equal(rate.recent(t, 20)?.perHour, rate.ratePerHour(t));
});

test('a fresh fast stream is measured from its first events on, not spread over a whole bucket', () => {
  // 10 events a second: after 2.5 s the first 30 s bucket read 25 events ÷ 30 s = 3,000/h, a
  // twelfth of the truth, and a budget dividing by it reviewed twelve times its share.
  const rate = new SlidingWindowRate(10 * minute);
  let t = 0;
  for (; t < 2.5 * second; t += second / 10) rate.record(t);
  const measured = rate.ratePerHour(t) as number;
  assert.ok(Math.abs(measured - 36_000) < 36_000 * 0.1, `${measured.toFixed(0)}/h after 2.5 s`);
  // A handful of events close together still counts a whole bucket: 3 in 10 ms is not 1,080,000/h.
  const burst = new SlidingWindowRate(10 * minute);
  for (const at of [0, 5, 10]) burst.record(at);
  assert.equal(burst.ratePerHour(10), 360);
});

test("a batch decided at one instant marks when counting began; it claims no rate of its size per millisecond", () => {
  // A worker decides a whole batch at one Date.now(): 32 events at t = 1 s read 115,200,000/h.
  const rate = new SlidingWindowRate(10 * minute);
  for (let i = 0; i < 32; i++) rate.record(second);
  assert.equal(rate.ratePerHour(second), 3840, 'one bucket at least while only the first instant is known');
  // Then a batch of 32 every second: 32 a second after the first instant is 115,200/h.
  for (let t = 2 * second; t <= 4 * second; t += second) for (let i = 0; i < 32; i++) rate.record(t);
  assert.equal(rate.ratePerHour(4 * second), 115_200);
});
