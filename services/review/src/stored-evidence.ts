import { createHash } from 'node:crypto';
import { manifestFileName, predictionFileName } from '@gradcam/contracts';
import { type BlobStore, forEachConcurrent, isStorageError } from '@gradcam/storage';

/** A file a review packet links to: the input image, an overlay or a raw map. */
export interface EvidenceFile {
  /** How a reason names it ("the input image", or its path in the item's folder): never a storage path. */
  readonly name: string;
  readonly key: string;
  /**
   * The size it must have. Given for the input only: a client's `s3://` reference is recorded,
   * not copied, so the object can be replaced after the explanation was made. The overlays and
   * raw maps are the worker's own, and two runs of one job (a stalled job taken over) may each
   * write them, with a map a GPU does not compute bit for bit the same: the manifest of one run
   * next to the overlay of the other is not a broken item.
   */
  readonly bytes?: number;
  /**
   * The sha256 it must have (the input only, as `bytes`): another photo of the same size put at a
   * client's key would otherwise be shown under this photo's overlay. Checking it reads the whole
   * input, once per packet: reviews are a small, human-paced sample, and the page loads it anyway.
   */
  readonly sha256?: string;
}

/**
 * HEADs in flight for one packet at most: an item explained by every method for its top classes
 * links to dozens of files, and other reviewers' leases share the store's connections.
 */
const headsInFlight = 8;

async function problemWith(store: BlobStore, file: EvidenceFile): Promise<string | undefined> {
  let head;
  try {
    head = await store.head(file.key);
  } catch (error) {
    if (isStorageError(error, 'STORAGE_INVALID_KEY')) return `${manifestFileName} or ${predictionFileName} names an invalid file (${file.name})`;
    throw error;
  }
  if (head === undefined) return `${file.name} is missing`;
  if (file.bytes !== undefined && head.bytes !== file.bytes) {
    return `${file.name} is not the one explained: it is ${head.bytes} bytes, ${manifestFileName} records ${file.bytes} (replaced since)`;
  }
  // No overlay or raw map is ever empty; an empty one is what a store can leave after a power loss.
  if (file.bytes === undefined && head.bytes === 0) return `${file.name} is empty`;
  if (file.sha256 !== undefined) {
    let body;
    try {
      // Bounded by the size just checked: an object replaced since the HEAD is not read whole.
      body = await store.get(file.key, { maxBytes: head.bytes });
    } catch (error) {
      if (isStorageError(error, 'STORAGE_NOT_FOUND')) return `${file.name} is missing`;
      if (isStorageError(error, 'STORAGE_TOO_LARGE')) return `${file.name} is not the one explained: it is larger than the ${head.bytes} bytes ${manifestFileName} records (replaced since)`;
      throw error;
    }
    if (createHash('sha256').update(body).digest('hex') !== file.sha256) {
      return `${file.name} is not the one explained: its sha256 differs from the one ${manifestFileName} records (replaced since)`;
    }
  }
  return undefined;
}

/**
 * What is wrong with the files a reviewer is shown and offered, or undefined when each is there
 * (and the input is the one the manifest records, by size and sha256): one HEAD per file, and one
 * GET of the input, a few at a time. The
 * first problem in the files' order is named, so the reason never depends on which answer came
 * first. The store being unreachable stays a StorageError (and no more HEADs are sent).
 */
export async function evidenceProblem(store: BlobStore, files: readonly EvidenceFile[]): Promise<string | undefined> {
  const problems: (string | undefined)[] = [];
  await forEachConcurrent(files, Math.min(headsInFlight, store.parallelism), async (file, index) => {
    problems[index] = await problemWith(store, file);
  });
  const found = problems.filter((problem) => problem !== undefined);
  const [first] = found;
  if (first === undefined) return undefined;
  const more = found.length - 1;
  return more === 0 ? first : `${first}, and ${more} more of its files ${more === 1 ? 'is' : 'are'} missing or changed`;
}
