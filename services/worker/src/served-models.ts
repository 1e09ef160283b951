import { type BackendDetails, liveModelKeptMs, liveModelVersionMember as member, modelLiveness, redisKeys } from '@gradcam/contracts';
import { type BackendPreference, Explainer, loadModel, selectBackend, warmUpBatchSizes } from '@gradcam/engine';
import type { Redis } from 'ioredis';
import type { LoadedModels } from './explain-batch.ts';

export interface EngineSetup {
  readonly backend: string;
  /** The GPU behind a WebGPU backend, for the start-up log. */
  readonly device: string | undefined;
  /** What the backend runs on (the wasm build, the WebGPU adapter), recorded in each manifest. */
  readonly backendDetails: BackendDetails | undefined;
  readonly models: LoadedModels;
  readonly served: ReadonlyMap<string, string>;
  /**
   * Runs each model once per batch size it will meet (one image on most backends; every padded
   * size on WebGPU, which compiles per shape) so no job waits on kernel compilation. Returns the
   * sizes run.
   */
  readonly warmUp: (maxBatch: number) => Promise<number[]>;
}

/** Selects the backend and loads every configured model (built-in name or model directory). */
export async function setUpEngine(backendPreference: BackendPreference, sources: readonly string[]): Promise<EngineSetup> {
  const backend = await selectBackend(backendPreference);
  const byName = new Map<string, { explainer: Explainer; version: string }>();
  for (const source of sources) {
    // Its name and version are announced to ingest, which stores records under them.
    const model = await loadModel(source, { keySafeIdentity: true });
    byName.set(model.descriptor.name, { explainer: new Explainer(model), version: model.descriptor.version });
  }
  return {
    backend: backend.name,
    device: backend.device,
    backendDetails: backend.details,
    models: { get: (name) => byName.get(name) },
    served: new Map([...byName].map(([name, m]) => [name, m.version])),
    warmUp: async (maxBatch) => {
      const sizes = warmUpBatchSizes(maxBatch, backend.tfBackend);
      for (const { explainer } of byName.values()) {
        const [h, w, c] = explainer.inputShape;
        const blank = new Float32Array(h * w * c);
        for (const size of sizes) await explainer.explain(Array<Float32Array>(size).fill(blank));
      }
      return sizes;
    },
  };
}

/**
 * Announces the models this worker serves, so ingest can tell a deployment whose workers have not
 * started yet from a model nobody serves, and fill in a record's missing version. The last worker
 * to start wins for a name, so this is only a default: ingest accepts an explicit version any live
 * worker serves (the heartbeat below), and prefers a live version when the announced one is not.
 */
export async function announceServedModels(redis: Redis, prefix: string, served: ReadonlyMap<string, string>): Promise<void> {
  if (served.size > 0) await redis.hset(redisKeys(prefix).servedModels, Object.fromEntries(served));
}

/** How often a worker says it is alive, and how long after its last word it counts as gone. */
export const liveness = modelLiveness;

/**
 * Keeps saying which model versions this worker serves, until stopped: every heartbeat raises
 * each version's last-seen time (never lowers it: ZADD GT, so workers with skewed clocks cannot
 * pull each other back). Nothing is removed on stop; the entry lapses once no worker beats, and is
 * trimmed `liveModelKeptMs` after (as is the set, when no worker beats at all): a fleet that rolls
 * out a version a day would otherwise keep every version it ever served.
 */
export function heartbeatServedModels(
  redis: Redis,
  prefix: string,
  served: ReadonlyMap<string, string>,
  onError: (error: Error) => void,
  keptMs: number = liveModelKeptMs(liveness.expiryMs),
): { stop(): void } {
  const key = redisKeys(prefix).liveModelVersions;
  const beat = () => {
    const now = Date.now();
    const args = [...served].flatMap(([model, version]) => [now, member(model, version)]);
    if (args.length === 0) return;
    redis
      .multi()
      .zadd(key, 'GT', ...args)
      .zremrangebyscore(key, '-inf', `(${now - keptMs}`)
      .pexpire(key, keptMs)
      .exec()
      .then((replies) => {
        const error = replies?.find(([e]) => e !== null)?.[0];
        if (error) throw error;
      })
      .catch((error: unknown) => onError(new Error(`model heartbeat failed: ${error instanceof Error ? error.message : String(error)}`)));
  };
  beat();
  const timer = setInterval(beat, liveness.heartbeatMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Whether some live worker (a heartbeat within the expiry) serves `model@version`. Asked only for
 * jobs this worker cannot serve itself, each of which then costs a round trip to hand it on anyway.
 */
export function isModelVersionLive(redis: Redis, prefix: string, expiryMs: number = liveness.expiryMs): (model: string, version: string) => Promise<boolean> {
  const key = redisKeys(prefix).liveModelVersions;
  return async (model, version) => {
    const lastSeen = await redis.zscore(key, member(model, version));
    return lastSeen !== null && Number(lastSeen) >= Date.now() - expiryMs;
  };
}
