/**
 * Runs `fn` over `items` with at most `limit` calls in flight (a store has finite connections:
 * pass `store.parallelism`, or less). Once a call rejects no more are started, and the first
 * rejection is thrown once the calls already started have settled.
 */
export async function forEachConcurrent<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const lanes = Array.from({ length: Math.min(Math.max(1, limit), items.length) }, lane);
  const settled = await Promise.allSettled(lanes);
  const rejected = settled.find((result) => result.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}
