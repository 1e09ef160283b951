import type { BlobStore } from '@gradcam/storage';

interface StoreHooks {
  beforePut?: (body: string) => Promise<void>;
  afterPut?: () => Promise<void>;
  beforeHead?: (key: string) => Promise<void>;
  afterHead?: () => void;
  beforeGet?: (key: string) => Promise<void>;
}

/**
 * For the desk and app tests: `store` with a hook run before (`beforePut`, given a buffered body
 * as text) and after (`afterPut`) each put, to hold, slow down, count or fail the review.json
 * writes, and around each head (`beforeHead`, `afterHead`, whatever its outcome), to count them;
 * `beforeGet` runs before each get (to change the object between a head and a get).
 */
export function hookedStore(store: BlobStore, hooks: StoreHooks): BlobStore {
  return {
    parallelism: store.parallelism,
    put: async (key, body, options) => {
      await hooks.beforePut?.(Buffer.isBuffer(body) ? body.toString('utf8') : '');
      await store.put(key, body, options);
      await hooks.afterPut?.();
    },
    get: async (key, options) => {
      await hooks.beforeGet?.(key);
      return store.get(key, options);
    },
    head: async (key) => {
      await hooks.beforeHead?.(key);
      try {
        return await store.head(key);
      } finally {
        hooks.afterHead?.();
      }
    },
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    presignGet: (key, seconds, options) => store.presignGet(key, seconds, options),
    close: () => store.close(),
  };
}
