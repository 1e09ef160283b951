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
    decide: (input) => (idFraction(input.id, idSalts.rate) < rate ? yes : no),
  };
}
