import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CounterDefinition, GaugeDefinition, HistogramDefinition, MetricDefinition } from './metric-catalog.ts';

/** The prom-client object a definition becomes, with its label names as literal types. */
export type MetricFor<Definition> =
  Definition extends CounterDefinition<infer Label>
    ? Counter<Label>
    : Definition extends GaugeDefinition<infer Label>
      ? Gauge<Label>
      : Definition extends HistogramDefinition<infer Label>
        ? Histogram<Label>
        : never;

export type MetricGroup = Readonly<Record<string, MetricDefinition>>;
export type Metrics<Group extends MetricGroup> = { readonly [Key in keyof Group]: MetricFor<Group[Key]> };

function createMetric(definition: MetricDefinition, registry: Registry): Counter | Gauge | Histogram {
  const common = { name: definition.name, help: definition.help, labelNames: [...definition.labelNames], registers: [registry] };
  switch (definition.type) {
    case 'counter':
      return new Counter(common);
    case 'gauge':
      return new Gauge(common);
    case 'histogram':
      return new Histogram({ ...common, buckets: [...definition.buckets] });
  }
}

/**
 * Creates one group of catalog metrics (e.g. `workerMetrics`) in `registry`, keyed like the group:
 * `createMetrics(registry, workerMetrics).jobs.inc({ outcome: 'completed' })`. A name already in
 * the registry throws, so a group cannot be registered twice by accident.
 */
export function createMetrics<Group extends MetricGroup>(registry: Registry, group: Group): Metrics<Group> {
  const entries = Object.entries(group).map(([key, definition]) => [key, createMetric(definition, registry)] as const);
  // Object.fromEntries loses the per-key types; each entry was built from the definition under the same key.
  return Object.fromEntries(entries) as Metrics<Group>;
}
