import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetTraffic, minutesSinceSilence, ratePerHour } from './fleet-traffic.ts';

// counts[0] is the last whole minute (here minute 1000), counts[i] the minute i before it.
const newest = 1000;
const minutes = (...counts: number[]) => [...counts, ...new Array<number>(10 - counts.length).fill(0)];
const flowing = new Array<number>(10).fill(600);

test('a flowing window is read as it is and kept as the level', () => {
  assert.deepEqual(fleetTraffic(flowing, newest, undefined), { perHour: 36_000, level: { perHour: 36_000, minute: newest }, held: false });
  // A newer window replaces an older level.
  assert.deepEqual(fleetTraffic(minutes(60, 60, 60), newest, { perHour: 36_000, minute: newest - 30 }), { perHour: 3600, level: { perHour: 3600, minute: newest }, held: false });
});

test('traffic back after a silence of the whole window is read at the level it left at until its own minutes span two', () => {
  const level = { perHour: 36_000, minute: newest - 25 };
  // Nothing in the window: before, 0 (each worker on its own estimate, the first event back one per quiet spell).
  assert.deepEqual(fleetTraffic(minutes(), newest, level), { perHour: 36_000, level, held: true });
  // Its first minute, which holds only the part after it came back (here 5 s of 36,000/h): not 3,000/h.
  assert.deepEqual(fleetTraffic(minutes(50), newest, level), { perHour: 36_000, level, held: true });
  // Two whole minutes: the window's own figure again, and the new level.
  assert.deepEqual(fleetTraffic(minutes(600, 50), newest, level), { perHour: 19_500, level: { perHour: 19_500, minute: newest }, held: false });
});

test('a model back sparse after a silence forgets the level once its own minutes span two, and is read as before', () => {
  const level = { perHour: 36_000, minute: newest - 25 };
  assert.deepEqual(fleetTraffic(minutes(1), newest, level), { perHour: 36_000, level, held: true });
  assert.deepEqual(fleetTraffic(minutes(0, 1), newest, level), { perHour: ratePerHour(minutes(0, 1)), level: undefined, held: false });
  assert.deepEqual(fleetTraffic(minutes(2, 1), newest, level), { perHour: 90, level: undefined, held: false });
  // A sparse model never makes a level: its window holds a handful of events.
  assert.deepEqual(fleetTraffic(minutes(1, 0, 2, 0, 0, 1, 3), newest, undefined), { perHour: ratePerHour(minutes(1, 0, 2, 0, 0, 1, 3)), level: undefined, held: false });
  // Nor does one minute of traffic alone, which may be the part of a minute after it began.
  assert.deepEqual(fleetTraffic(minutes(600), newest, undefined), { perHour: 36_000, level: undefined, held: false });
});

test('a draining window (traffic all before the level) reads as before and keeps the level', () => {
  const level = { perHour: 36_000, minute: newest - 4 };
  const draining = minutes(0, 0, 0, 0, 600, 600, 600, 600, 600, 600);
  assert.deepEqual(fleetTraffic(draining, newest, level), { perHour: 21_600, level, held: false });
  // Without a level, no traffic is 0 (the policy's own estimate), as before.
  assert.deepEqual(fleetTraffic(minutes(), newest, undefined), { perHour: 0, level: undefined, held: false });
});

test("a silence of all the whole minutes but the oldest, which holds the part before it began, holds the level: the sliver is no rate", () => {
  // A pause of 10 to 11 minutes: the oldest whole minute holds the traffic's last seconds before
  // it. Read over the window, 60 events were 360/h where the traffic left (and comes back) at 36,000/h.
  const level = { perHour: 36_000, minute: newest - 9 };
  assert.deepEqual(fleetTraffic(minutes(0, 0, 0, 0, 0, 0, 0, 0, 0, 60), newest, level), { perHour: 36_000, level, held: true });
});

test('traffic back after a pause shorter than the window is read as after one of the whole window, not thinned by the silence', () => {
  // A pause of 8 minutes: the oldest two whole minutes hold the traffic before it (here its last
  // 55 s), the newest the traffic back (5 s of it). Read over the window, 7,200/h and then 10,800/h,
  // each made the level, where the traffic left and comes back at 36,000/h.
  const level = { perHour: 36_000, minute: newest - 8 };
  assert.equal(minutesSinceSilence(minutes(0, 0, 0, 0, 0, 0, 0, 0, 550, 600), level), 0);
  assert.deepEqual(fleetTraffic(minutes(50, 0, 0, 0, 0, 0, 0, 0, 550, 600), newest, level), { perHour: 36_000, level, held: true });
  // Read from the 2 minutes since the silence (which the per-class rates read too).
  assert.deepEqual(fleetTraffic(minutes(600, 50, 0, 0, 0, 0, 0, 0, 550, 600), newest, level), { perHour: 19_500, level: { perHour: 19_500, minute: newest }, held: false, sinceSilence: 2 });
  // Its own minutes stay its figure while the window holds the traffic from before the silence.
  const back = { perHour: 36_000, minute: newest - 1 };
  assert.deepEqual(fleetTraffic(minutes(600, 600, 600, 0, 0, 0, 0, 0, 0, 600), newest, back), { perHour: 36_000, level: { perHour: 36_000, minute: newest }, held: false, sinceSilence: 3 });
});

test('a quiet minute, or quiet minutes a slow model may well have, are no silence: the window is read as before', () => {
  const level = { perHour: 36_000, minute: newest - 1 };
  assert.equal(minutesSinceSilence(minutes(600, 0, 600, 600), level), undefined);
  assert.deepEqual(fleetTraffic(minutes(600, 0, 600, 600), newest, level), { perHour: 27_000, level: { perHour: 27_000, minute: newest }, held: false });
  // 180/h: 3 events a minute, none in 2 minutes 1 time in 400.
  const slow = { perHour: 180, minute: newest - 1 };
  assert.equal(minutesSinceSilence(minutes(3, 0, 0, 4, 3, 2, 3, 3, 4, 3), slow), undefined);
  assert.equal(minutesSinceSilence(minutes(3, 0, 0, 0, 3, 2, 3, 3, 4, 3), slow), 1);
});
