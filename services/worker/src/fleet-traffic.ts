import type { ReviewTrafficLevel } from '@gradcam/contracts';

/** The fleet-wide traffic is summed over at most this many whole minutes. */
export const trafficMinutes = 10;
/**
 * A window's rate becomes the fleet's level (see `fleetTraffic`) on at least this many events
 * (±22%): a sparse model's window holds a handful, and is never taken for a level.
 */
const levelMinEvents = 20;

/**
 * Events per hour from per-minute counts, `counts[0]` the last whole minute and `counts[i]` the
 * minute i before it. The sum is divided by the minutes since the first one holding traffic, not
 * by all of them: a fresh fleet, or traffic back after a pause, has only m < 10 minutes of it,
 * and dividing by 10 would understate the rate 10/m times (and overspend the budget as much).
 * 0 when no minute holds traffic.
 */
export function ratePerHour(counts: readonly number[]): number {
  const minutes = trafficSpan(counts);
  return minutes === 0 ? 0 : (counts.reduce((sum, c) => sum + c, 0) / minutes) * 60;
}

/**
 * Whole minutes from the oldest one holding traffic to the last (`counts` as in ratePerHour),
 * looking only at the newest `within` of them; 0 when none holds traffic.
 */
export function trafficSpan(counts: readonly number[], within = counts.length): number {
  for (let i = Math.min(within, counts.length) - 1; i >= 0; i--) if ((counts[i] as number) > 0) return i + 1;
  return 0;
}

/** ln of the chance of a whole minutes' silence at the level below which it is a pause, not a quiet spell: 1/1000. */
const logSilenceImplausible = Math.log(1e-3);
/**
 * A silence is at least this many whole minutes: a quiet minute alone is read in the window as it
 * always was (a pause of under 2 minutes leaves the window at 0.8 of the traffic or more).
 */
const silenceMinMinutes = 2;

/**
 * The newest whole minutes (`counts` as in ratePerHour) that hold the traffic since a silence the
 * window also holds traffic from before: 0 while that silence reaches the last whole minute;
 * undefined when the window holds no such silence (or there is no level). A silence is a run of
 * 2 whole minutes or more without traffic where the level would have brought ln 1000 ≈ 6.9
 * events (a chance of none below 1/1000; at the least level, 120/h, four minutes): a pause, not
 * the quiet minutes of a slow model.
 */
export function minutesSinceSilence(counts: readonly number[], level: ReviewTrafficLevel | undefined): number | undefined {
  if (level === undefined || !(level.perHour > 0)) return undefined;
  const silentMinutes = Math.max(silenceMinMinutes, Math.ceil(-logSilenceImplausible / (level.perHour / 60)));
  for (let i = 0; i < counts.length; ) {
    if ((counts[i] as number) > 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < counts.length && (counts[end] as number) === 0) end++;
    // Silent to the oldest minute: nothing from before it is left to read.
    if (end === counts.length) return undefined;
    if (end - i >= silentMinutes) return i;
    i = end;
  }
  return undefined;
}

export interface FleetTraffic {
  /** Events/h the budget divides by; 0 for none (it then falls back on its own estimate). */
  readonly perHour: number;
  /** The level to keep from now on: the one given, a new one, or undefined when it is forgotten. */
  readonly level: ReviewTrafficLevel | undefined;
  /** Whether `perHour` is the level's, standing in for a window that holds no traffic back yet. */
  readonly held: boolean;
  /**
   * Where `perHour` is read from the newest whole minutes only, those since a silence: how many
   * (the per-class rates are read from the same minutes).
   */
  readonly sinceSilence?: number;
}

/**
 * The fleet's traffic of a model from the counts of its last whole minutes (`counts` as in
 * ratePerHour, `counts[0]` being minute `newestMinute`) and the level it last flowed at.
 *
 * Traffic back after a silence of the whole window finds no minute of it in the window until its
 * first minute is over, and that first minute holds only the part after the traffic came back.
 * Every worker then fell back on its own estimate, which reads its first event back as one per
 * quiet spell (6/h: a share of K/6, reviewed) and its next ones as a fresh stream of its own
 * part; so a fleet of P reviewed P first events and spent P times K for a minute or two after
 * each pause (16 workers, 36,000 events/h with a 15-minute pause every hour, K = 10/h: 3.4–4.0 × K).
 * So a window that flows (its traffic spans 2 whole minutes or more, reaches the newest one, and
 * holds 20 events or more) is kept as the level, and while the window holds traffic in at most
 * its newest minute, the level stands for the fleet: traffic that comes back at the level it left
 * at is read at that level. Traffic that comes back lower (a model gone sparse) is read at the
 * level until its own minutes span two whole minutes (1 to 2 minutes after its first event, plus
 * the 10 s between refreshes); then, not flowing, it makes the level forgotten, so its later
 * events are read as before (the window's, or one per quiet spell). Traffic that comes back
 * higher is read at the level too, where the worker's own count does not show more (the sampler
 * answers the higher of the two while `held`): a single worker back at 10× its old level reviewed
 * 35 in the 3 minutes after by the level alone, where K = 120/h allows 6, 8–16 by its own
 * estimate alone, 4–7 by the higher of the two (review-sampler-fleet.test.ts).
 */
export function fleetTraffic(counts: readonly number[], newestMinute: number, level: ReviewTrafficLevel | undefined): FleetTraffic {
  // Traffic back after a pause shorter than the window: the window holds the traffic from before
  // it too, and read over the window (silence included) the traffic back was a fraction of itself
  // (a pause of 9 minutes: a tenth) until its guard saw 20 of each worker's own events, and made
  // that fraction the level. It is read as after a pause of the whole window: at the level while
  // it spans at most one whole minute, then by its own minutes.
  const sinceSilence = minutesSinceSilence(counts, level);
  if (level !== undefined && sinceSilence !== undefined && sinceSilence >= 1) {
    if (sinceSilence === 1) return { perHour: level.perHour, level, held: true };
    const since = counts.slice(0, sinceSilence);
    const perHour = ratePerHour(since);
    if (since.reduce((sum, c) => sum + c, 0) >= levelMinEvents) return { perHour, level: { perHour, minute: newestMinute }, held: false, sinceSilence };
  }
  const span = trafficSpan(counts);
  const perHour = ratePerHour(counts);
  const events = counts.reduce((sum, c) => sum + c, 0);
  if (span >= 2 && (counts[0] as number) > 0 && events >= levelMinEvents) return { perHour, level: { perHour, minute: newestMinute }, held: false };
  if (level === undefined) return { perHour, level, held: false };
  // A silence of all the whole minutes but the oldest is one of the whole window too: that minute
  // may hold only the part before the silence began (a pause of 10 to 11 minutes), as the newest
  // holds only the part after the traffic came back. Read over the window, that sliver was the
  // fleet's rate (and this process's own window, empty, had no step for its guard to correct):
  // 16 workers back from a pause of 10 minutes at K = 120/h reviewed 42-56 in the 2 minutes after
  // where K allows 4; 10.5 minutes: 13-20.
  if (trafficSpan(counts, counts.length - 1) <= 1) return { perHour: level.perHour, level, held: true };
  // Minutes after the level's hold traffic that came back after it; a window whose traffic all
  // came before it is draining (a pause, or a quiet minute), and reads as it always did.
  const back = trafficSpan(counts, newestMinute - level.minute);
  return { perHour, level: back >= 2 ? undefined : level, held: false };
}
