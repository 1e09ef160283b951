/**
 * Child process of the multi-process throughput benchmark: loads the model, warms up, reports
 * "ready", waits for "go", then runs Grad-CAM batches for a fixed time and reports what it did.
 * Started by multi-process-throughput.ts through child_process.fork; not meant to be run by hand.
 */
import * as tf from '@tensorflow/tfjs';
import { Explainer, loadModel, selectBackend } from '@gradcam/engine';
import { fixtureBatch } from './fixture-batch.ts';
import { processMaxRssMb } from './rss-sampler.ts';
import { median } from './sample-statistics.ts';
import { type ThroughputWorkerConfig, type WorkerMessage, isGoMessage, parseWorkerConfig } from './throughput-messages.ts';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('throughput-worker must be started with child_process.fork (no IPC channel)'));
      return;
    }
    process.send(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown): void => {
      if (!isGoMessage(message)) return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
}

async function run(config: ThroughputWorkerConfig): Promise<void> {
  const backend = await selectBackend(config.backend);
  const explainer = new Explainer(await loadModel(config.model));
  const [height, width] = explainer.inputShape;
  const inputs = await fixtureBatch(config.batch, height, width);
  const explain = () => explainer.explain(inputs, { methods: ['gradcam'] });

  const warmStart = performance.now();
  for (let i = 0; i < config.warmupIterations || performance.now() - warmStart < config.warmupSeconds * 1000; i++) await explain();

  const go = waitForGo();
  await send({ type: 'ready' });
  await go;

  const tensorsBefore = tf.memory().numTensors;
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
  await send({
    type: 'result',
    result: {
      images: batchMs.length * config.batch,
      iterations: batchMs.length,
      elapsedMs,
      backend: backend.name,
      msPerBatchMedian: median(batchMs),
      tensorsBefore,
      tensorsAfter: tf.memory().numTensors,
      maxRssMb: processMaxRssMb(),
    },
  });
  explainer.model.runner.dispose();
}

try {
  await run(parseWorkerConfig(process.argv[2]));
  process.disconnect?.();
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  await send({ type: 'error', message }).catch(() => undefined);
  process.exitCode = 1;
  process.disconnect?.();
}
