import type { BlobStore } from '@gradcam/storage';

/**
 * For the desk tests: `store` with a hook run before (`beforePut`, given a buffered body as text)
 * and after (`afterPut`) each put, to hold, slow down, count or fail the review.json writes.
 */
export function hookedStore(store: BlobStore, hooks: { beforePut?: (body: string) => Promise<void>; afterPut?: () => Promise<void> }): BlobStore {
  return {
    parallelism: store.parallelism,
    put: async (key, body, options) => {
      await hooks.beforePut?.(Buffer.isBuffer(body) ? body.toString('utf8') : '');
      await store.put(key, body, options);
      await hooks.afterPut?.();
    },
    get: (key, options) => store.get(key, options),
    head: (key) => store.head(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    presignGet: (key, seconds) => store.presignGet(key, seconds),
    close: () => store.close(),
  };
}
