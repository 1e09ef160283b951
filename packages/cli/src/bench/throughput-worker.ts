/**
 * Child process of the multi-process throughput benchmark: loads the model, warms up, reports
 * "ready", waits for "go", then runs Grad-CAM batches for a fixed time and reports what it did.
 * Started by multi-process-throughput.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { Explainer, loadModel, selectBackend } from '@gradcam/engine';
import { fixtureBatch } from './fixture-batch.ts';
import type { ThroughputWorkerConfig } from './multi-process-throughput.ts';
import { peakRssMb } from './peak-rss.ts';
import { median } from './sample-statistics.ts';
import { backendField, isRecord, numberField, stringField } from './worker-config-guards.ts';
import { nextParentMessage, runWorker, sendToParent } from './worker-ipc.ts';
import { type ThroughputMessage, isGoMessage } from './worker-messages.ts';

function parseConfig(value: unknown): ThroughputWorkerConfig {
  if (!isRecord(value)) throw new Error('worker config: not an object');
  return {
    model: stringField(value, 'model'),
    backend: backendField(value, 'backend'),
    batch: numberField(value, 'batch'),
    seconds: numberField(value, 'seconds'),
    warmupIterations: numberField(value, 'warmupIterations'),
    warmupSeconds: numberField(value, 'warmupSeconds'),
  };
}

async function run(config: ThroughputWorkerConfig): Promise<void> {
  const backend = await selectBackend(config.backend);
  const explainer = new Explainer(await loadModel(config.model));
  const [height, width] = explainer.inputShape;
  const inputs = await fixtureBatch(config.batch, height, width);
  const explain = () => explainer.explain(inputs, { methods: ['gradcam'] });

  const warmStart = performance.now();
  for (let i = 0; i < config.warmupIterations || performance.now() - warmStart < config.warmupSeconds * 1000; i++) await explain();

  const go = nextParentMessage(isGoMessage);
  await sendToParent({ type: 'ready' } satisfies ThroughputMessage);
  await go;

  const tensorsBefore = tf.memory().numTensors;
  const cpu = process.cpuUsage();
  const batchMs: number[] = [];
  const started = performance.now();
  let elapsedMs = 0;
  while (elapsedMs < config.seconds * 1000) {
    const t = performance.now();
    await explain();
    const now = performance.now();
    batchMs.push(now - t);
    elapsedMs = now - started;
  }
  const { user, system } = process.cpuUsage(cpu);
  const message: ThroughputMessage = {
    type: 'result',
    result: {
      backend: backend.name,
      images: batchMs.length * config.batch,
      iterations: batchMs.length,
      elapsedMs,
      cpuSeconds: (user + system) / 1e6,
      msPerBatchMedian: median(batchMs),
      tensorsBefore,
      tensorsAfter: tf.memory().numTensors,
      peakRssMb: peakRssMb(),
    },
  };
  await sendToParent(message);
  explainer.model.runner.dispose();
}

await runWorker((config) => run(parseConfig(config)));
