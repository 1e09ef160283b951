import { type BatchFigures, batchFiguresEvent, explainQueueName } from '@gradcam/contracts';
import { explainJob } from '@gradcam/queue';
import { QueueEventsProducer } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The queue's own event-stream length: a custom event trims the stream too, and a shorter length
 * would drop `completed` events the exporter has not read yet.
 */
const eventStreamLength = explainJob.eventStreamLength;

export interface BatchFiguresPublisher {
  /** Never rejects: a figure lost to a Redis blip is reported through `onError`, not a job failure. */
  publish(figures: BatchFigures): Promise<void>;
  close(): Promise<void>;
}

/**
 * Publishes each micro-batch's figures on the explain queue's event stream, where the metrics
 * exporter reads them (see `BatchFigures`), whether or not any of its jobs completed.
 */
export function createBatchFiguresPublisher(connection: Redis, prefix: string, onError: (error: Error) => void): BatchFiguresPublisher {
  const producer = new QueueEventsProducer(explainQueueName, { connection, prefix });
  producer.on('error', onError);
  let closing: Promise<void> | undefined;
  return {
    publish: (figures) =>
      producer.publishEvent({ eventName: batchFiguresEvent, figures: JSON.stringify(figures) }, eventStreamLength).catch((error: unknown) => {
        onError(error instanceof Error ? error : new Error(String(error)));
      }),
    close: () => (closing ??= producer.close()),
  };
}
