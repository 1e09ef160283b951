import { notSampled, type ReviewPolicy } from '../review-policy.ts';

/** Reviews nothing (`none`): sampling switched off without removing the setting. */
export function noReview(): ReviewPolicy {
  const no = notSampled('none');
  return { describe: () => 'none', decide: () => no };
}
