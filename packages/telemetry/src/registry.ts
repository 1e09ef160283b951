import { Registry, collectDefaultMetrics } from 'prom-client';

export interface RegistryOptions {
  /**
   * Also export the process and Node.js runtime metrics (CPU, memory, event-loop lag, GC,
   * handles) under prom-client's standard `process_*` / `nodejs_*` names.
   */
  readonly defaultMetrics?: boolean;
  /** Labels added to every series of this registry (keep them few and of low cardinality). */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

/**
 * One registry per process, never prom-client's global one: tests can build many apps in one
 * process without "metric already registered" clashes, and nothing registers metrics as a side
 * effect of an import. Runtime metrics keep their standard names rather than a `gradcam_` prefix
 * so stock Node.js dashboards and alerts work unchanged; Prometheus' `job`/`instance` labels
 * already tell the services apart.
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels({ ...options.defaultLabels });
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsResponse {
  readonly contentType: string;
  readonly body: string;
}

/** The exposition text of a registry, for any HTTP framework: set the content type, send the body. */
export async function metricsResponse(registry: Registry): Promise<MetricsResponse> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
