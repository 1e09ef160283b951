import { idFraction, idSalts } from '../id-fraction.ts';

/**
 * The budget works where priorities crowd: a few reviews an hour out of tens of thousands of
 * events means thresholds like 0.9997. Its histogram therefore bins t = 1 − √(1 − p) rather than
 * p: equal-width bins in t are ~2√(1 − p) / bins wide in p, ~30× finer than plain bins at 0.9997,
 * and only 2× coarser at 0. Monotone, so quantiles carry over exactly.
 */
export const toRankSpace = (priority: number): number => 1 - Math.sqrt(1 - (priority < 1 ? priority : 1));
export const fromRankSpace = (t: number): number => 1 - (1 - t) * (1 - t);

/**
 * The value the budget compares with its threshold (in rank space): the priority's histogram bin,
 * and within the bin a position drawn from the id instead of the priority's own. Identical
 * priorities (the same image twice, a saturated score) would otherwise all pass or all fail
 * together, which no threshold can bring to a share of them; spread evenly over their bin they
 * split like any other values, and the histogram's within-bin interpolation becomes exact.
 * Priorities closer than a bin (~2√(1 − p) / bins) are thereby treated as ties.
 */
export function budgetRank(priority: number, id: string, bins: number): number {
  const bin = Math.floor(toRankSpace(priority > 0 ? priority : 0) * bins);
  return ((bin < bins ? bin : bins - 1) + idFraction(id, idSalts.budgetTies)) / bins;
}
