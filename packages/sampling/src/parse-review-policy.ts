import { parseDecimal } from './decimal-number.ts';
import { ReviewPolicyError } from './errors/review-policy-error.ts';
import { anyOf } from './policies/any-of.ts';
import { budget, type FleetThresholdProvider, type TrafficRateProvider } from './policies/budget.ts';
import { classQuota, type ClassTrafficProvider } from './policies/class-quota.ts';
import { confidenceBand } from './policies/confidence-band.ts';
import { explanationScore, type ExplanationScoreOptions } from './policies/explanation-score.ts';
import { noReview } from './policies/no-review.ts';
import { uniformRate } from './policies/uniform-rate.ts';
import type { ReviewPolicy } from './review-policy.ts';
import { formatWindow, minWindowMs, parseWindow } from './window-duration.ts';

export interface ParseReviewPolicyOptions {
  /** Passed to the budget term: the fleet-wide traffic rate. */
  readonly trafficRate?: TrafficRateProvider;
  /** Passed to the budget term: the fleet's threshold, for a process whose own is not placed yet. */
  readonly fleetThreshold?: FleetThresholdProvider;
  /** Passed to the class-quota term: the fleet-wide traffic per (model, class). */
  readonly classTraffic?: ClassTrafficProvider;
}

const grammar =
  'use none, or terms joined by "," or "|": budget=K[/h][@10m], rate=R, confidence<T, confidence=LO..HI, class-quota=N[/h|/30m|/d], border>X, entropy>X, entropy<X, overlap<X';

function fraction(term: string, raw: string): number {
  const value = parseDecimal(raw);
  if (value === undefined || !(value >= 0 && value <= 1)) throw new ReviewPolicyError(term, 'expected a decimal number from 0 to 1');
  return value;
}

/** Refuses a parsed window under minWindowMs, naming the term and the smallest window allowed. */
function longEnough(term: string, ms: number, what: string, prefix: string): number {
  if (ms < minWindowMs) throw new ReviewPolicyError(term, `${what} must be at least one second (${prefix}${formatWindow(minWindowMs)})`);
  return ms;
}

function positive(term: string, raw: string, what: string): number {
  const value = parseDecimal(raw);
  if (value === undefined || !(value > 0 && Number.isFinite(value))) throw new ReviewPolicyError(term, `expected ${what} (a decimal number > 0)`);
  return value;
}

/** One term → a policy; explanation rules come back as options to merge into one policy. */
function parseTerm(term: string, options: ParseReviewPolicyOptions): ReviewPolicy | ExplanationScoreOptions {
  let m: RegExpExecArray | null;
  if ((m = /^budget=([^/@]*)(\/[^@]*)?(?:@(.*))?$/.exec(term))) {
    const reviewsPerHour = positive(term, m[1] as string, 'reviews per hour');
    if (m[2] !== undefined && m[2] !== '/h') throw new ReviewPolicyError(term, 'the budget is per hour: budget=K or budget=K/h');
    const window = m[3] === undefined ? undefined : parseWindow(m[3]);
    if (m[3] !== undefined && window === undefined) throw new ReviewPolicyError(term, 'expected an adaptation window like @10m or @1h');
    if (window !== undefined) longEnough(term, window, 'the adaptation window', '@');
    return budget({
      reviewsPerHour,
      ...(window === undefined ? {} : { adaptationWindowMs: window }),
      ...(options.trafficRate ? { trafficRate: options.trafficRate } : {}),
      ...(options.fleetThreshold ? { fleetThreshold: options.fleetThreshold } : {}),
    });
  }
  if ((m = /^rate=(.*)$/.exec(term))) return uniformRate(fraction(term, m[1] as string));
  if ((m = /^confidence<(.*)$/.exec(term))) {
    const below = fraction(term, m[1] as string);
    if (below === 0) throw new ReviewPolicyError(term, 'a threshold of 0 selects nothing');
    return confidenceBand({ below });
  }
  if ((m = /^confidence=(.*)\.\.(.*)$/.exec(term))) {
    const lo = fraction(term, m[1] as string);
    const hi = fraction(term, m[2] as string);
    if (!(lo < hi)) throw new ReviewPolicyError(term, 'expected LO..HI with LO < HI');
    return confidenceBand({ between: [lo, hi] });
  }
  if ((m = /^class-quota=([^/]*)(?:\/(.*))?$/.exec(term))) {
    const perClass = positive(term, m[1] as string, 'reviews per class');
    const window = m[2] === undefined ? 3_600_000 : parseWindow(m[2]);
    if (window === undefined) throw new ReviewPolicyError(term, 'expected a window like /h, /30m or /d');
    longEnough(term, window, 'the window', '/');
    return classQuota({ perClass, windowMs: window, ...(options.classTraffic ? { classTraffic: options.classTraffic } : {}) });
  }
  if ((m = /^border>(.*)$/.exec(term))) return { borderAbove: fraction(term, m[1] as string) };
  if ((m = /^entropy>(.*)$/.exec(term))) return { entropyAbove: fraction(term, m[1] as string) };
  if ((m = /^entropy<(.*)$/.exec(term))) return { entropyBelow: fraction(term, m[1] as string) };
  if ((m = /^overlap<(.*)$/.exec(term))) return { overlapBelow: fraction(term, m[1] as string) };
  throw new ReviewPolicyError(term, `unknown term; ${grammar}`);
}

const kindOf = (term: string): string => /^[a-z-]+[<>=]?/.exec(term)?.[0] ?? term;

/**
 * `GRADCAM_REVIEW_POLICY` → a policy: terms OR-ed in the order given (`anyOf`), e.g.
 * `budget=120,confidence<0.6,class-quota=5,border>0.5`. The explanation rules (border, entropy,
 * overlap) join into one `explanationScore` where the first of them stands. `describe()` of the
 * result parses back to the same policy. Throws ReviewPolicyError naming the bad term.
 */
export function parseReviewPolicy(text: string, options: ParseReviewPolicyOptions = {}): ReviewPolicy {
  const terms = text
    .split(/[,|]/)
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (terms.length === 0) throw new ReviewPolicyError(text, `empty policy; ${grammar}`);
  if (terms.includes('none')) {
    if (terms.length > 1) throw new ReviewPolicyError('none', 'stands alone');
    return noReview();
  }
  const seen = new Set<string>();
  const parts: (ReviewPolicy | 'explanation')[] = [];
  let explanation: ExplanationScoreOptions = {};
  for (const term of terms) {
    const kind = kindOf(term);
    if (seen.has(kind)) throw new ReviewPolicyError(term, `"${kind}" is given twice`);
    seen.add(kind);
    const parsed = parseTerm(term, options);
    if ('describe' in parsed) parts.push(parsed);
    else {
      if (!parts.includes('explanation')) parts.push('explanation');
      explanation = { ...explanation, ...parsed };
    }
  }
  return anyOf(...parts.map((p) => (p === 'explanation' ? explanationScore(explanation) : p)));
}
