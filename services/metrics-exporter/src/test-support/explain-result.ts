import type { ExplainJobResult } from '@gradcam/contracts';

/**
 * What a worker returns for one image explained with one map: the `completed` event's
 * returnvalue the exporter counts (one image, one explanation, a second of e2e latency by default).
 */
export function explainResult(overrides: Partial<ExplainJobResult> = {}): ExplainJobResult {
  const storedAt = Date.now();
  return {
    manifestKey: 'out/explanation.json',
    model: 'm',
    methods: ['gradcam'],
    explanations: 1,
    acceptedAt: storedAt - 1_000,
    storedAt,
    batchSize: 1,
    batchLeader: true,
    stageSeconds: { decode: 0, engine: 0, render: 0, upload: 0 },
    ...overrides,
  };
}
