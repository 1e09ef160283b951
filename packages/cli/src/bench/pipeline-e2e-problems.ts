/** What an end-to-end run reports about its records, as far as judging it goes. */
export interface E2eOutcome {
  readonly rejected: number;
  /** Failure code → jobs. */
  readonly failures: Readonly<Record<string, number>>;
  readonly unaccounted: number;
  /** Status → ids, as GET /v1/inferences/{id} answered after the run. */
  readonly verifiedStatuses: Readonly<Record<string, number>>;
}

/**
 * Why the run did not explain every record it submitted, one phrase per reason; empty when it did.
 * A run with any of these did other work than the flags asked for (a failed job may have cost the
 * workers little or a whole batch's time), so its rates, latencies and ratio are not comparable
 * with a clean run's, and the benchmark exits non-zero.
 */
export function e2eProblems(outcome: E2eOutcome): string[] {
  const problems: string[] = [];
  if (outcome.rejected > 0) problems.push(`${outcome.rejected} record${outcome.rejected === 1 ? '' : 's'} rejected by ingest`);
  const failed = Object.entries(outcome.failures).filter(([, n]) => n > 0);
  const failedTotal = failed.reduce((sum, [, n]) => sum + n, 0);
  if (failedTotal > 0) problems.push(`${failedTotal} job${failedTotal === 1 ? '' : 's'} failed (${failed.map(([code, n]) => `${code} ${n}`).join(', ')})`);
  if (outcome.unaccounted > 0) problems.push(`${outcome.unaccounted} job${outcome.unaccounted === 1 ? '' : 's'} unaccounted for in BullMQ`);
  const notDone = Object.entries(outcome.verifiedStatuses).filter(([status, n]) => status !== 'done' && n > 0);
  if (notDone.length > 0) problems.push(`GET /v1/inferences/{id} answered ${notDone.map(([status, n]) => `${status} ${n}`).join(', ')} (not done)`);
  return problems;
}
