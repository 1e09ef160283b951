import { explainQueueName } from '@gradcam/contracts';
import { type RedisServer, freePort, startRedisServer } from '@gradcam/dev-services';
import { randomPrefix } from '@gradcam/queue/test-fixtures';
import { type Processor, Queue, Worker, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';

/** What a live metrics-exporter test runs the exporter among (see startExporterRig). */
export interface ExporterRig {
  readonly redisServer: RedisServer;
  /** A client of that Redis, for the test's own reads. */
  readonly redis: Redis;
  readonly prefix: string;
  /** The exporter's port, free when the rig started. */
  readonly port: number;
  /** The exporter's environment: this Redis, prefix and port, warnings only. */
  readonly env: NodeJS.ProcessEnv;
  readonly queue: Queue;
  readonly worker: Worker;
  /** Stops the worker, the queue, the client and the Redis server. */
  close(): Promise<void>;
}

/**
 * Its own redis-server, a queue prefix and a free port for the exporter, and the explain queue
 * with a BullMQ worker that settles each job by `processor` (its result, or a thrown failure): the
 * events the exporter counts, without the pipeline's workers.
 */
export async function startExporterRig(processor: Processor, workerOptions: Partial<WorkerOptions> = {}): Promise<ExporterRig> {
  const redisServer = await startRedisServer();
  const prefix = randomPrefix();
  const port = await freePort();
  const env = { ...process.env, REDIS_URL: redisServer.url, GRADCAM_EXPORTER_PORT: String(port), GRADCAM_HOST: '127.0.0.1', GRADCAM_QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
  const connection = { host: '127.0.0.1', port: redisServer.port };
  const redis = new Redis(redisServer.url);
  const queue = new Queue(explainQueueName, { connection, prefix });
  const worker = new Worker(explainQueueName, processor, { ...workerOptions, connection, prefix });
  worker.on('error', () => {});
  return {
    redisServer, redis, prefix, port, env, queue, worker,
    async close() {
      await worker.close();
      await queue.close();
      redis.disconnect();
      await redisServer.stop();
    },
  };
}
