import { DecayedHistogram } from '../estimators/decayed-histogram.ts';
import { SlidingWindowRate } from '../estimators/sliding-window-rate.ts';
import { formatNumber, formatParameter, type PolicyVerdict, type ReviewPolicy } from '../review-policy.ts';
import { formatWindow } from '../window-duration.ts';
import { budgetRank, fromRankSpace } from './budget-rank.ts';

/**
 * A fleet rate that is no window's average of the traffic now coming but the level it last flowed
 * at, presumed to stand for it (the worker's, while traffic comes back after a silence of the
 * whole window: its window holds none of it yet). The budget reads it as the rate now, or this
 * process's own estimate where that is higher, and does not scale it by the step guard: the guard
 * corrects a window's average for a step inside the window, which the level has no part of.
 */
export interface PresumedTrafficRate {
  readonly presumedPerHour: number;
}

/**
 * Fleet-wide traffic of a model in events per hour (or a level presumed to stand for it), or
 * undefined to fall back on this process's own estimate. Several worker processes share the
 * queue and each sees only its part of the traffic; each samples the same share K / fleet rate of
 * its part, so the fleet reviews K.
 */
export type TrafficRateProvider = (model: string, now: number) => number | PresumedTrafficRate | undefined;

/**
 * The priority threshold the fleet is using for a model (the last one any worker recorded), or
 * undefined. A process that has just started has too few priorities of its own to place the
 * threshold, so it uses the fleet's until its histogram holds enough.
 */
export type FleetThresholdProvider = (model: string) => number | undefined;

export interface BudgetOptions {
  /** K: reviews per hour per model, for the whole fleet. */
  readonly reviewsPerHour: number;
  /**
   * How long the traffic rate is measured over (sliding window): one window after traffic
   * changes, the review rate is back at K. Default 10 minutes.
   */
  readonly adaptationWindowMs?: number;
  /**
   * Half-life of the priority distribution. Default max(1 h, 200·ln 2 / K h): ≈ 200 events above
   * the threshold in the histogram's memory whatever the traffic, so the threshold's own noise
   * stays near 1/√200 ≈ 7%. Shorter follows a drifting distribution faster, noisier.
   */
  readonly quantileHalfLifeMs?: number;
  /** Histogram bins (in rank space, see budget-rank.ts); default 2048, 16 KiB per model. */
  readonly bins?: number;
  readonly trafficRate?: TrafficRateProvider;
  readonly fleetThreshold?: FleetThresholdProvider;
}

export interface BudgetPolicy extends ReviewPolicy {
  /** The priority threshold in force for a model; undefined before its first event. */
  readonly threshold: (model: string) => number | undefined;
  /**
   * The threshold this process's own histogram places for a model, never raised to the fleet's:
   * what a worker publishes as its threshold for the fleet (see `fleetThreshold`). Undefined
   * before the model's first event.
   */
  readonly ownThreshold: (model: string) => number | undefined;
  /**
   * Whether this process's histogram held enough, at its last threshold, to place its own (it
   * expected 5 events above it): only then is `ownThreshold` worth publishing for the fleet.
   */
  readonly ownThresholdPlaced: (model: string) => boolean;
  /** This process's own traffic estimate (events/h), e.g. to publish for the fleet-wide sum. */
  readonly localRate: (model: string, now: number) => number | undefined;
}

const hourMs = 3_600_000;
/** The threshold is recomputed after this many events of a model, or this long, whichever first. */
const recomputeEvery = 64;
const recomputeAfterMs = 1_000;
/** Fewer events than this in the step guard's short look are noise, not a step. */
const stepMinEvents = 20;
/**
 * A process's own histogram places the threshold once it expects this many of its events above
 * it (weight × share); before that, the fleet's threshold is used where there is one. With fewer,
 * the top quantile is little more than the highest priority seen so far.
 */
const ownThresholdFromEventsAbove = 5;
/**
 * The budget's own reviews are checked against what its shares promised (the sum of the share of
 * each event, at most 1 each), in blocks of this many promised reviews: time plays no part, so a pause or a clock
 * step neither triggers nor hides a shortfall.
 */
const shortfallBlock = 20;
/** ln of the chance (a Chernoff bound on the Poisson lower tail) below which a block's shortfall is a shift, not chance. */
const logShortfallImplausible = Math.log(1e-4);

/**
 * Whether `granted` reviews are implausibly few where `promised` were due: P(X ≤ granted) for
 * X ~ Poisson(promised) is at most e^(g − E − g·ln(g/E)) (e^−E for none), below 1/10,000. None
 * after 9.2 promised (4.6 minutes at K = 120/h), or 4 of 20.
 */
export function implausibleShortfall(promised: number, granted: number): boolean {
  if (!(granted < promised)) return false;
  const logBound = granted === 0 ? -promised : granted - promised - granted * Math.log(granted / promised);
  return logBound < logShortfallImplausible;
}

interface ModelBudget {
  /** Of ranks (budget-rank.ts), not raw priorities. Replaced by an empty one on a shortfall. */
  ranks: DecayedHistogram;
  readonly traffic: SlidingWindowRate;
  /** In priority space, as recorded and compared (the histogram's quantile is in rank space). */
  threshold: number;
  /** The one this process's histogram places, before the fleet's can raise it (priority space). */
  own: number;
  /** Whether the histogram expected 5 events above `own` when it was placed (else the fleet's may raise it). */
  placed: boolean;
  untilRecompute: number;
  recomputedAt: number;
  /** The share of the last recompute: what each event promises toward `promised` (at most 1). */
  share: number;
  /** Since the current shortfall block began: reviews the shares promised, and the ones the budget granted. */
  promised: number;
  granted: number;
}

/**
 * "K reviews per hour per model": an explanation is reviewed when its priority (`priorityScore`)
 * is at or above a threshold, the (1 − K/rate) quantile of recent priorities, so a share K/rate of
 * the traffic gets through. Precisely, its rank is compared: the priority's histogram bin with an
 * id-drawn position inside it, which splits ties (budget-rank.ts); every decision records the
 * rank and the threshold, both in priority space, and is sampled iff rank ≥ threshold exactly as
 * recorded, so an audit needs no replay. The quantile comes from a decayed
 * histogram and the rate from a sliding window (or the injected fleet-wide rate), both O(1) per
 * event. When traffic grows 10×, the share falls 10× and the threshold rises up the tail of the
 * same distribution. No timers: time is each input's `now`.
 */
export function budget(options: BudgetOptions): BudgetPolicy {
  const k = options.reviewsPerHour;
  if (!(k > 0 && Number.isFinite(k))) throw new RangeError(`budget: reviewsPerHour must be > 0, got ${k}`);
  const windowMs = options.adaptationWindowMs ?? 600_000;
  if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`budget: adaptationWindowMs must be > 0, got ${windowMs}`);
  const halfLifeMs = options.quantileHalfLifeMs ?? Math.max(hourMs, ((200 * Math.LN2) / k) * hourMs);
  const bins = options.bins ?? 2048;
  const { trafficRate, fleetThreshold } = options;
  const text = windowMs === 600_000 ? `budget=${formatParameter(k)}/h` : `budget=${formatParameter(k)}/h@${formatWindow(windowMs)}`;
  const models = new Map<string, ModelBudget>();

  const stateOf = (model: string, now: number): ModelBudget => {
    let state = models.get(model);
    if (!state) {
      state = {
        ranks: new DecayedHistogram({ halfLifeMs, bins }),
        traffic: new SlidingWindowRate(windowMs),
        threshold: 0,
        own: 0,
        placed: false,
        untilRecompute: 0,
        recomputedAt: now,
        share: 1,
        promised: 0,
        granted: 0,
      };
      models.set(model, state);
    }
    return state;
  };

  /**
   * Step guard: when the last two buckets (1/10 of the window) run at more than twice or less than
   * half the window's rate, on enough events not to be chance, the factor by which they do (else
   * 1), so a 10× step is followed within a minute or so rather than spending a window at up to
   * 10× K (or K/10).
   */
  const stepFactor = (state: ModelBudget, now: number): number => {
    const whole = state.traffic.ratePerHour(now);
    const recent = state.traffic.recent(now, 2);
    if (whole === undefined || !(whole > 0) || recent === undefined || recent.events < stepMinEvents) return 1;
    const factor = recent.perHour / whole;
    return factor > 2 || factor < 0.5 ? factor : 1;
  };

  const localRate = (state: ModelBudget, now: number): number | undefined => {
    const whole = state.traffic.ratePerHour(now);
    return whole === undefined ? undefined : whole * stepFactor(state, now);
  };

  const recompute = (model: string, state: ModelBudget, now: number): void => {
    // A fleet rate of 0 means the provider has nothing yet (not "no traffic": this event is
    // traffic), so it falls back on the local estimate rather than reviewing everything. The
    // fleet rate is a window's average too, so it gets the same step guard: this process's share
    // of the traffic steps with the fleet's, and the local ratio scales the fleet figure.
    // A presumed level is read as it is, or as this process's own estimate where that is higher
    // (traffic back above the level, e.g. a single worker back at 10×): the own estimate carries
    // the step guard already, and the level has no window for it to correct. Scaled again here,
    // the guard counted twice: a worker draining a backlog after a pause (10× for 30 s, then the
    // old level) read its own 3,600/h as 660/h, the guard's 0.18 squared.
    const fleet = trafficRate?.(model, now);
    const rate =
      typeof fleet === 'object'
        ? Math.max(fleet.presumedPerHour, localRate(state, now) ?? 0)
        : fleet !== undefined && fleet > 0
          ? fleet * stepFactor(state, now)
          : localRate(state, now);
    const share = rate === undefined || !(rate > 0) ? 1 : k / rate;
    const own = fromRankSpace(state.ranks.upperQuantile(share) ?? 0);
    // Never below its own: a young histogram's top quantile errs low (it is at most the highest
    // priority seen), so the fleet's can only correct it upwards. And a fleet's threshold can be
    // young too (a whole fleet starting together): taken as it is, low ones would pass from
    // process to process and keep everyone sampling everything.
    // The weight decayed to now: a model back after a long pause holds little of what it held,
    // however many events it once saw (measured from its first event, one event 24 h old made
    // two read as 16,777,217 and switched this guard off).
    // What a process publishes for the fleet is `own`, never the raised one: published raised,
    // each young process's rise passed to the next and the fleet's threshold only went up, to
    // the highest priority any of them had seen (8 workers: no reviews for 20 minutes).
    const placed = state.ranks.weightAt(now) * share >= ownThresholdFromEventsAbove;
    const fleetsThreshold = placed ? undefined : fleetThreshold?.(model);
    state.placed = placed;
    state.own = own;
    state.share = share;
    state.threshold = fleetsThreshold === undefined ? own : Math.max(own, fleetsThreshold);
    state.untilRecompute = recomputeEvery;
    state.recomputedAt = now;
  };

  /**
   * Shortfall guard: the histogram remembers hours of priorities (the half-life), so when they
   * fall for good (a model version that no longer makes the maps the old one was reviewed for)
   * the threshold stays up among the old ones, above everything that now comes, until they decay:
   * 2% of maps all on the border, then none, reviewed nothing for 2.5 h at K = 120/h and for all
   * of the 6 h simulated after at K = 10/h (now 13 min and 75 min). When a block's reviews fall implausibly short of
   * what the shares promised, the past no longer describes the traffic: the histogram starts
   * afresh, as in a process just started (the fleet's threshold, where there is one, while young).
   * Only shortfalls: an excess (priorities that rose) places the threshold among the new ones
   * within minutes by itself, the new ones being at the top.
   */
  const tallyShortfall = (state: ModelBudget, fires: boolean): void => {
    // One event brings at most one review, whatever its share: a share above 1 (traffic below K,
    // or the first event back after a pause, read as one per quiet spell: K × the spell) counted in
    // full made a block of 20 out of one event and restarted the histogram after about one pause
    // in three (a fleet of 8 with a 15-minute pause an hour: 130 restarts a day).
    state.promised += state.share < 1 ? state.share : 1;
    if (fires) state.granted += 1;
    if (implausibleShortfall(state.promised, state.granted)) {
      state.ranks = new DecayedHistogram({ halfLifeMs, bins });
      state.untilRecompute = 0;
    } else if (state.promised < shortfallBlock) return;
    state.promised = 0;
    state.granted = 0;
  };

  return {
    describe: () => text,
    decide: (input, priority): PolicyVerdict => {
      const state = stateOf(input.model, input.now);
      const rank = budgetRank(priority, input.id, bins);
      state.traffic.record(input.now);
      state.ranks.add(rank, input.now);
      // While the histogram is young every event moves its quantiles a lot: recompute on each one,
      // or the first second's threshold (made from a handful of events) stands for a second.
      // The same while the rate is young: traffic back after a pause of a window or more is
      // measured afresh, its first estimates (the first event alone reads as one per quiet spell;
      // the next few as a fresh stream's first bucket) far below the truth;
      // a threshold made from the first event's share of 1 let everything through for a second.
      // Young by the histogram's weight decayed to now, so also after a pause long enough to
      // forget the past. Time since the last recompute counts either way: a clock set back is time passing too.
      const young = state.ranks.weightAt(input.now) < recomputeEvery || state.traffic.events(input.now) < recomputeEvery;
      if (young || --state.untilRecompute <= 0 || Math.abs(input.now - state.recomputedAt) >= recomputeAfterMs) recompute(input.model, state, input.now);
      const threshold = state.threshold;
      // Compared as recorded (priority space, monotone in rank space), so the audit rule holds
      // even where two ranks round to the same priority.
      const recordedRank = fromRankSpace(rank);
      const fires = recordedRank >= threshold;
      tallyShortfall(state, fires);
      if (fires) {
        const detail = `priority ${formatNumber(priority)} (rank ${formatNumber(recordedRank)}) ≥ threshold ${formatNumber(threshold)}`;
        return { sampled: true, term: text, reason: 'priority', detail, threshold, rank: recordedRank };
      }
      return { sampled: false, term: text, reason: 'not-sampled', threshold, rank: recordedRank };
    },
    threshold: (model) => models.get(model)?.threshold,
    ownThreshold: (model) => models.get(model)?.own,
    ownThresholdPlaced: (model) => models.get(model)?.placed ?? false,
    localRate: (model, now) => {
      const state = models.get(model);
      return state && localRate(state, now);
    },
  };
}
