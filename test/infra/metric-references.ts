import { type MetricDefinition, workerMetrics, workerProcessLabel } from '../../packages/telemetry/src/metric-catalog.ts';

/**
 * Checks the metric names and label names a PromQL expression (or a piece of prose) uses against
 * the metric catalog, so a renamed metric or label cannot silently empty a panel or disarm an alert.
 *
 * Metric names are the identifiers starting with `gradcam_`: the project's own metrics all do, and
 * nothing else in PromQL does (functions, keywords and label names never carry that prefix).
 * String literals are blanked first, so `job="gradcam_x"` is not mistaken for a metric.
 */

const histogramSuffixes = ['_bucket', '_sum', '_count'] as const;
/** Labels Prometheus adds to every scraped series. */
const targetLabels = new Set(['job', 'instance']);
/** The worker's metrics also carry their process's default label (one target sums a replica's processes). */
const workerMetricNames = new Set(Object.values(workerMetrics).map((d) => d.name));

const stringLiteral = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;
const metricName = /(?<![A-Za-z0-9_:$])gradcam_[A-Za-z0-9_:]*/g;
const selector = /(?<![A-Za-z0-9_:$])(gradcam_[A-Za-z0-9_:]*)\s*\{([^}]*)\}/g;
const matcherLabel = /([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g;
const groupingClause = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

export function blankStrings(expr: string): string {
  return expr.replace(stringLiteral, '""');
}

export function metricNamesIn(text: string): string[] {
  return [...new Set(text.match(metricName) ?? [])];
}

export interface ResolvedMetric {
  readonly definition: MetricDefinition;
  /** `_bucket`, `_sum` or `_count` for a histogram series, '' for the metric itself. */
  readonly suffix: string;
}

export function resolveMetric(name: string, catalog: readonly MetricDefinition[]): ResolvedMetric | undefined {
  const exact = catalog.find((d) => d.name === name);
  if (exact) return exact.type === 'histogram' ? undefined : { definition: exact, suffix: '' };
  for (const suffix of histogramSuffixes) {
    if (!name.endsWith(suffix)) continue;
    const base = catalog.find((d) => d.name === name.slice(0, -suffix.length));
    if (base?.type === 'histogram') return { definition: base, suffix };
  }
  return undefined;
}

function labelsAllowedFor(resolved: ResolvedMetric): Set<string> {
  const labels = new Set([...resolved.definition.labelNames, ...targetLabels]);
  if (workerMetricNames.has(resolved.definition.name)) labels.add(workerProcessLabel);
  if (resolved.suffix === '_bucket') labels.add('le');
  return labels;
}

/**
 * Problems with one PromQL expression, as readable lines; [] when every `gradcam_` metric it names
 * is in the catalog (a histogram only through its `_bucket`/`_sum`/`_count` series) and every label
 * it matches or groups by belongs to one of those metrics.
 */
export function metricReferenceProblems(expr: string, catalog: readonly MetricDefinition[]): string[] {
  const code = blankStrings(expr);
  const problems: string[] = [];
  if (/__name__/.test(code)) problems.push('matches on __name__, which this check cannot follow: name the metric instead');

  const resolved = new Map<string, ResolvedMetric>();
  for (const name of metricNamesIn(code)) {
    const hit = resolveMetric(name, catalog);
    if (hit) {
      resolved.set(name, hit);
      continue;
    }
    const histogram = catalog.find((d) => d.name === name && d.type === 'histogram');
    problems.push(
      histogram
        ? `${name} is a histogram: query ${name}_bucket, ${name}_sum or ${name}_count`
        : `${name} is not in the metric catalog (packages/telemetry/src/metric-catalog.ts)`,
    );
  }

  for (const [, name = '', matchers = ''] of code.matchAll(selector)) {
    const hit = resolved.get(name);
    if (!hit) continue;
    const allowed = labelsAllowedFor(hit);
    for (const [, label = ''] of matchers.matchAll(matcherLabel)) {
      if (!allowed.has(label)) problems.push(`${name}{${label}=…}: ${hit.definition.name} has no label "${label}" (it has: ${[...allowed].join(', ')})`);
    }
  }

  if (resolved.size > 0) {
    const known = new Set([...resolved.values()].flatMap((hit) => [...labelsAllowedFor(hit)]));
    for (const [, list = ''] of code.matchAll(groupingClause)) {
      for (const label of list.split(',').map((l) => l.trim()).filter((l) => l !== '')) {
        if (!known.has(label)) problems.push(`groups by "${label}", a label none of ${[...resolved.keys()].join(', ')} has`);
      }
    }
  }
  return problems;
}

/** Problems with prose (alert annotations): every `gradcam_` name mentioned must be a catalog series. */
export function metricMentionProblems(text: string, catalog: readonly MetricDefinition[]): string[] {
  return metricNamesIn(text)
    .filter((name) => !resolveMetric(name, catalog) && !catalog.some((d) => d.name === name))
    .map((name) => `mentions ${name}, which is not in the metric catalog`);
}
