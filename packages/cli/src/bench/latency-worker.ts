/**
 * Child process measuring one model on one backend (all batch sizes), one process each so memory
 * figures and backend state never mix. Started by run-engine-bench.ts; sends `{type: 'row'}`.
 */
import { type IterationBudget, type ModelBenchConfig, benchModel } from './engine-bench.ts';
import { backendField, field, isRecord, numberField, recordField, stringField } from './worker-config-guards.ts';
import { runWorker, sendToParent } from './worker-ipc.ts';
import type { RowMessage } from './worker-messages.ts';

function parseBudget(record: Record<string, unknown>): IterationBudget {
  if (record['kind'] === 'iterations') return { kind: 'iterations', iterations: numberField(record, 'iterations') };
  return {
    kind: 'seconds',
    seconds: numberField(record, 'seconds'),
    minIterations: numberField(record, 'minIterations'),
    maxIterations: numberField(record, 'maxIterations'),
  };
}

function parseModelBenchConfig(value: unknown): ModelBenchConfig {
  if (!isRecord(value)) throw new Error('worker config: not an object');
  const batches = field(value, 'batches');
  if (!Array.isArray(batches) || !batches.every((b): b is number => Number.isInteger(b) && b > 0)) {
    throw new Error(`worker config: "batches" must be positive integers, got ${JSON.stringify(batches)}`);
  }
  const warmup = recordField(value, 'warmup');
  return {
    model: stringField(value, 'model'),
    backend: backendField(value, 'backend'),
    batches,
    budget: parseBudget(recordField(value, 'budget')),
    warmup: { iterations: numberField(warmup, 'iterations'), minSeconds: numberField(warmup, 'minSeconds') },
  };
}

await runWorker((config) => benchModel(parseModelBenchConfig(config), (row) => sendToParent({ type: 'row', row } satisfies RowMessage)));
