import { fileURLToPath } from 'node:url';
import type { BackendPreference } from '@gradcam/engine';
import type { EngineBenchRow, IterationBudget, ModelBenchConfig, WarmupPlan } from './engine-bench.ts';
import { forkWorker } from './fork-worker.ts';
import { isRowMessage } from './worker-messages.ts';

const latencyWorker = fileURLToPath(new URL('./latency-worker.ts', import.meta.url));

export interface EngineBenchPlan {
  readonly models: readonly string[];
  readonly backends: readonly BackendPreference[];
  readonly batches: readonly number[];
  readonly budget: IterationBudget;
  readonly warmup: WarmupPlan;
}

/**
 * Every backend × model × batch of the plan. Each backend × model runs in a fresh process, one
 * after the other (never two at once: they would share the cores), so its peak RSS is its own and
 * no earlier model's wasm heap or backend state affects it.
 */
export async function runEngineBench(plan: EngineBenchPlan, onRow: (row: EngineBenchRow) => void): Promise<EngineBenchRow[]> {
  const rows: EngineBenchRow[] = [];
  for (const backend of plan.backends) {
    for (const model of plan.models) {
      const config: ModelBenchConfig = { model, backend, batches: plan.batches, budget: plan.budget, warmup: plan.warmup };
      const worker = forkWorker(latencyWorker, config, (message) => {
        if (!isRowMessage(message)) return;
        rows.push(message.row);
        onRow(message.row);
      });
      try {
        await worker.exited;
      } finally {
        worker.kill();
      }
    }
  }
  return rows;
}
