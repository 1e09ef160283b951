import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalStack, IngestClient, startLocalStack } from '@gradcam/cli/local-stack';
import { freePort } from '@gradcam/dev-services';
import { serviceLineToStderr } from '../support/service-output.ts';

export interface ReviewLocalStack {
  readonly stack: LocalStack;
  /** Posts to the stack's ingest with its API token. */
  readonly client: IngestClient;
  /** Stops the stack and removes its state folder. */
  close(): Promise<void>;
}

/**
 * The real local stack (Redis, one worker process with the real model, ingest, review) for the
 * review page's tests: every explanation goes to the review pool (`rate=1`), reviewers signed in
 * with `reviewTokens` (`name:token,…`), queues under `prefix`.
 */
export async function startReviewLocalStack(prefix: string, reviewTokens: string): Promise<ReviewLocalStack> {
  const stateDir = await mkdtemp(join(tmpdir(), `gradcam-${prefix}-`));
  try {
    const [ingestPort, exporterPort, workerMetricsPort, reviewPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const stack = await startLocalStack({
      config: {
        redisUrl: undefined,
        apiTokens: [`${prefix}-ingest-0123456789`],
        eraseTokens: [],
        ingestPort,
        exporterPort,
        workerMetricsPort,
        reviewPort,
        reviewTokens,
        reviewPolicy: 'rate=1',
        workerProcesses: 1,
        stateDir,
        s3Configured: false,
      },
      env: { GRADCAM_QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' },
      onLine: serviceLineToStderr,
    });
    return {
      stack,
      client: new IngestClient({ baseUrl: stack.ingestUrl, token: stack.token }),
      async close() {
        await stack.stop();
        await rm(stateDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(stateDir, { recursive: true, force: true });
    throw error;
  }
}
