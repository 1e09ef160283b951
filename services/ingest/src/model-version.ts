import type { ModelRef } from '@gradcam/contracts';
import { ApiError } from '@gradcam/http-service';
import type { ServedModels } from './served-models.ts';

/** Seconds a client should wait before retrying a record whose workers have not started yet. */
const workersStartingRetryAfter = 10;

/**
 * The version a record is accepted at, by what workers said:
 * - no worker has announced any model yet (a fresh deployment, workers still loading): 503, retry;
 * - a model no worker announced or serves while others are announced: 422 MODEL_NOT_SERVED, final;
 * - no version given: the announced one while some worker serves it, else the version a live worker
 *   was last heard serving, else the announced one (its workers are down; the job waits for them);
 * - a version given: accepted when it is the announced one or any live worker serves it (a rolling
 *   upgrade serves two at once); otherwise 503 MODEL_VERSION_NOT_SERVED with Retry-After, since
 *   workers of that version may be starting (clients upgraded before workers). A version nobody
 *   will ever serve is retried until the client gives up.
 */
export function resolveModelVersion(served: ServedModels, model: ModelRef): string {
  const announced = served.announced[model.name];
  const live = served.live.get(model.name) ?? [];
  if (announced === undefined && live.length === 0) {
    if (Object.keys(served.announced).length === 0 && served.live.size === 0) {
      throw new ApiError(503, 'MODELS_NOT_ANNOUNCED', `no worker has announced its models yet (workers starting?); retry later`, undefined, workersStartingRetryAfter);
    }
    // The models there are, so a typo or a model not deployed yet is told apart at once.
    throw new ApiError(422, 'MODEL_NOT_SERVED', `no worker serves model "${model.name}" (served: ${servedModelNames(served)})`);
  }
  if (model.version === undefined) {
    if (announced !== undefined && (live.length === 0 || live.includes(announced))) return announced;
    return live.at(-1) ?? (announced as string);
  }
  if (model.version === announced || live.includes(model.version)) return model.version;
  const servedNow = [...new Set([...live, ...(announced === undefined ? [] : [announced])])].join(', ');
  throw new ApiError(
    503,
    'MODEL_VERSION_NOT_SERVED',
    `no live worker serves model "${model.name}" at version ${model.version} now (served: ${servedNow}); retry once workers of that version have started`,
    undefined,
    workersStartingRetryAfter,
  );
}

/** At most this many model names in an error: a message stays a line. */
const listedModels = 20;

/** The models workers announced or serve live, by name, the first {@link listedModels} of them. */
function servedModelNames(served: ServedModels): string {
  const names = [...new Set([...Object.keys(served.announced), ...served.live.keys()])].sort();
  const more = names.length - listedModels;
  return names.slice(0, listedModels).join(', ') + (more > 0 ? ` and ${more} more` : '');
}
