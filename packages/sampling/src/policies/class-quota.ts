import { idFraction, idSalts } from '../id-fraction.ts';
import { formatNumber, formatParameter, notSampled, type ReviewPolicy } from '../review-policy.ts';
import { formatWindow } from '../window-duration.ts';

const hourMs = 3_600_000;

/**
 * Fleet-wide traffic of one (model, predicted class) in events per hour, or undefined to go on
 * this process's own count. Worker processes sharing the queue each see only their part of a
 * class; counting only that, each would take N per window and the fleet N × processes.
 */
export type ClassTrafficProvider = (model: string, classIndex: number, now: number) => number | undefined;

export interface ClassQuotaOptions {
  /** Reviews wanted per (model, predicted class) per window, on average, for the whole fleet. */
  readonly perClass: number;
  /** Default one hour. */
  readonly windowMs?: number;
  readonly classTraffic?: ClassTrafficProvider;
}

interface ClassTraffic {
  /** Exponentially decayed event count, time constant = window: ≈ events per window. */
  count: number;
  at: number;
}

/**
 * Stratified sampling by predicted class, so rare classes get reviewed too. Each (model, class)
 * stratum keeps a decayed count n of its traffic per window, and an explanation is drawn (by id
 * hash) with inclusion probability π = min(1, N / n):
 * - a class with fewer than N explanations per window has all of them reviewed;
 * - a common class gets ≈ N per window, drawn uniformly within the class (no bias toward the
 *   start of a window, which a "first N per window" quota would have);
 * - a burst in one class lowers its π at once (each event adds to n), so a burst of b events
 *   costs ≈ N·(1 + ln(b/N)) reviews, not b;
 * - π goes into `detail`, so review statistics can be reweighted by 1/π (Horvitz–Thompson);
 * - with `classTraffic`, n is the fleet's (several worker processes each see their part), so the
 *   fleet reviews N per class per window, not N per process.
 * After a cold start the first N of each class are taken, then π falls as n builds up.
 */
export function classQuota(options: ClassQuotaOptions): ReviewPolicy {
  const { perClass } = options;
  const windowMs = options.windowMs ?? 3_600_000;
  if (!(perClass > 0 && Number.isFinite(perClass))) throw new RangeError(`classQuota: perClass must be > 0, got ${perClass}`);
  if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`classQuota: windowMs must be > 0, got ${windowMs}`);
  const text = `class-quota=${formatParameter(perClass)}/${formatWindow(windowMs)}`;
  const no = notSampled(text);
  const { classTraffic } = options;
  const models = new Map<string, Map<number, ClassTraffic>>();

  const trafficOf = (model: string, classIndex: number, now: number): ClassTraffic => {
    let classes = models.get(model);
    if (!classes) models.set(model, (classes = new Map()));
    let traffic = classes.get(classIndex);
    if (!traffic) classes.set(classIndex, (traffic = { count: 0, at: now }));
    return traffic;
  };

  return {
    describe: () => text,
    decide: (input) => {
      const traffic = trafficOf(input.model, input.predictedClass, input.now);
      // An event from the past (clocks of several producers) decays nothing: time never runs back.
      if (input.now > traffic.at) {
        traffic.count *= Math.exp((traffic.at - input.now) / windowMs);
        traffic.at = input.now;
      } else if (input.now < traffic.at - windowMs) {
        // More than a window behind: not a late event but a clock set back (one decision stamped
        // ahead, then corrected). Time goes on from here; kept at the stamp ahead, the count grew
        // by every event and decayed by none until real time caught up (+6 h: 4 reviews in the
        // next 5 h where N allowed 25).
        traffic.at = input.now;
      }
      traffic.count += 1;
      // The fleet's count per window when known; this process's own when larger (a burst it sees
      // before the fleet figure, which lags by a minute or so, catches up).
      const fleet = classTraffic?.(input.model, input.predictedClass, input.now);
      const count = fleet !== undefined && fleet > 0 ? Math.max(traffic.count, (fleet * windowMs) / hourMs) : traffic.count;
      const inclusion = perClass >= count ? 1 : perClass / count;
      if (idFraction(input.id, idSalts.classQuota) >= inclusion) return no;
      return {
        sampled: true,
        term: text,
        reason: 'class-quota',
        detail: `class ${input.predictedClass}: inclusion probability ${formatNumber(inclusion)} (~${formatNumber(count)} per ${formatWindow(windowMs)})`,
      };
    },
  };
}
