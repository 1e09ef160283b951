import type { PolicyVerdict, ReviewPolicy } from '../review-policy.ts';

interface AnyOfPolicy extends ReviewPolicy {
  readonly policies: readonly ReviewPolicy[];
}

const isAnyOf = (policy: ReviewPolicy): policy is AnyOfPolicy => 'policies' in policy;

/**
 * Sampled when any policy samples; the verdict is the first one's (in the order given), so the
 * decision names the term that fired. Every policy sees every input, even after one has fired:
 * stateful ones (budget, class quota) must see the whole stream for their estimates, and their
 * state then does not depend on the order of the terms. The threshold and rank are the first ones
 * reported (the budget's), sampled or not, so they are recorded with every decision.
 */
export function anyOf(...policies: readonly ReviewPolicy[]): ReviewPolicy {
  const flat = policies.flatMap((p) => (isAnyOf(p) ? p.policies : [p]));
  if (flat.length === 0) throw new RangeError('anyOf: give at least one policy');
  if (flat.length === 1) return flat[0] as ReviewPolicy;
  const text = flat.map((p) => p.describe()).join('|');
  const budgeted = flat.find((p) => p.threshold !== undefined);
  const policy: AnyOfPolicy = {
    policies: flat,
    describe: () => text,
    decide: (input, priority) => {
      let chosen: PolicyVerdict | undefined;
      let first: PolicyVerdict | undefined;
      let thresholded: PolicyVerdict | undefined;
      for (const p of flat) {
        const verdict = p.decide(input, priority);
        first ??= verdict;
        if (chosen === undefined && verdict.sampled) chosen = verdict;
        if (thresholded === undefined && verdict.threshold !== undefined) thresholded = verdict;
      }
      const result = chosen ?? (first as PolicyVerdict);
      if (thresholded === undefined || thresholded === result) return result;
      const { threshold, rank } = thresholded;
      return { ...result, ...(threshold === undefined ? {} : { threshold }), ...(rank === undefined ? {} : { rank }) };
    },
  };
  if (budgeted?.threshold === undefined) return policy;
  return {
    ...policy,
    threshold: budgeted.threshold,
    ...(budgeted.ownThreshold === undefined ? {} : { ownThreshold: budgeted.ownThreshold }),
    ...(budgeted.ownThresholdPlaced === undefined ? {} : { ownThresholdPlaced: budgeted.ownThresholdPlaced }),
    ...(budgeted.localRate === undefined ? {} : { localRate: budgeted.localRate }),
  };
}
