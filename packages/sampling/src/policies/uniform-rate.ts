import { parseDecimal } from '../decimal-number.ts';
import { idFraction, idSalts } from '../id-fraction.ts';
import { formatParameter, notSampled, type PolicyVerdict, type ReviewPolicy } from '../review-policy.ts';

/**
 * A fixed share of explanations, drawn by id hash: the unbiased baseline sample that review
 * statistics (error rates, drift) can be computed from without reweighting.
 */
export function uniformRate(rate: number): ReviewPolicy {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`uniformRate: rate must be in [0, 1], got ${rate}`);
  const text = `rate=${formatParameter(rate)}`;
  const no = notSampled(text);
  const yes: PolicyVerdict = Object.freeze({ sampled: true, term: text, reason: 'rate', detail: `id drawn at rate ${formatParameter(rate)}` });
  return {
    describe: () => text,
    decide: (input) => (drawnAtRate(input.id, rate) ? yes : no),
  };
}

/** Whether the uniform draw at `rate` takes this id: the one rule `uniformRate` decides by. */
export const drawnAtRate = (id: string, rate: number): boolean => idFraction(id, idSalts.rate) < rate;

/**
 * Whether `id` is in the uniform draw of `policy`, a recorded policy text (a decision's `policy`,
 * `describe()` of the configured one): its `rate=R` term takes the id, whichever term the decision
 * names. With `budget=60,rate=0.01` an id both terms take is recorded as the budget's, yet it
 * belongs to the baseline all the same: the baseline is every id the draw takes, or it is no
 * longer uniform. False for a policy without a `rate=` term (or with a rate that is not a number
 * from 0 to 1, which no configured policy records).
 */
export function inUniformDraw(policy: string, id: string): boolean {
  for (const term of policy.split(/[,|]/)) {
    const m = /^rate=(.*)$/.exec(term.trim());
    const rate = m ? parseDecimal(m[1] as string) : undefined;
    if (rate !== undefined && rate >= 0 && rate <= 1) return drawnAtRate(id, rate);
  }
  return false;
}
