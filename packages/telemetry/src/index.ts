export * from './metric-catalog.ts';
export { createMetrics, type MetricFor, type MetricGroup, type Metrics } from './create-metrics.ts';
export { catalogProblems, metricConventionProblems } from './metric-conventions.ts';
export { createRegistry, metricsResponse, type MetricsResponse, type RegistryOptions } from './registry.ts';
export { createLogger, type LogLevel, type Logger, type LoggerOptions } from './logger.ts';
export type { Registry } from 'prom-client';
export { ClusterTotals } from './cluster-totals.ts';
export { ChildProcessMetrics, type ChildProcessMetricsOptions } from './child-process-metrics.ts';
export { clusterScrape, reportMetricsToParent } from './report-metrics.ts';
