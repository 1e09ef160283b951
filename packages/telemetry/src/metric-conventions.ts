import type { MetricDefinition } from './metric-catalog.ts';

/** Labels that would make one series per inference or job: unbounded cardinality. */
const forbiddenLabels = new Set(['id', 'inferenceid', 'inference_id', 'jobid', 'job_id', 'request_id', 'requestid', 'trace_id', 'traceid']);
/** Label names Prometheus itself uses on histograms and summaries. */
const reservedLabels = new Set(['le', 'quantile']);

/**
 * What is wrong with a metric definition by this project's conventions (empty when nothing):
 * `gradcam_` prefix, snake_case, `_total` on counters only, base units (`_seconds`, `_bytes`),
 * strictly increasing histogram buckets, low-cardinality label names. Exported so other
 * packages' tests (dashboards, alert rules) can hold their own definitions to the same rules.
 */
export function metricConventionProblems(definition: MetricDefinition): string[] {
  const { name } = definition;
  const problems: string[] = [];
  if (!/^gradcam_[a-z0-9]+(_[a-z0-9]+)*$/.test(name)) problems.push(`${name}: names are snake_case with the gradcam_ prefix`);
  if (definition.type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter names end in _total`);
  if (definition.type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: only counters end in _total`);
  if (/(duration|latency|_time)(_|$)/.test(name) && !/_seconds(_total)?$/.test(name)) problems.push(`${name}: durations are in seconds and say so (_seconds)`);
  if (/_(ms|milliseconds|minutes|kb|mb|percent)(_|$)/.test(name)) problems.push(`${name}: use base units (seconds, bytes, ratios 0–1)`);
  if (definition.help.trim() === '') problems.push(`${name}: help text is empty`);
  if (definition.type === 'histogram') {
    const { buckets } = definition;
    if (buckets.length === 0) problems.push(`${name}: a histogram needs buckets`);
    if (!buckets.every((bound) => Number.isFinite(bound))) problems.push(`${name}: buckets are finite (+Inf is implicit)`);
    if (!buckets.every((bound, i) => i === 0 || bound > (buckets[i - 1] as number))) problems.push(`${name}: buckets must be strictly increasing`);
  }
  const seen = new Set<string>();
  for (const label of definition.labelNames) {
    if (!/^[a-z][a-z0-9_]*$/.test(label)) problems.push(`${name}: label "${label}" is not snake_case`);
    if (forbiddenLabels.has(label.toLowerCase())) problems.push(`${name}: label "${label}" would create a series per item`);
    if (reservedLabels.has(label)) problems.push(`${name}: label "${label}" is reserved by Prometheus`);
    if (seen.has(label)) problems.push(`${name}: label "${label}" is listed twice`);
    seen.add(label);
  }
  return problems;
}

/** Problems across a whole catalog: each definition's, plus names defined more than once. */
export function catalogProblems(definitions: readonly MetricDefinition[]): string[] {
  const problems = definitions.flatMap(metricConventionProblems);
  const names = new Set<string>();
  for (const { name } of definitions) {
    if (names.has(name)) problems.push(`${name}: defined more than once`);
    names.add(name);
  }
  return problems;
}
