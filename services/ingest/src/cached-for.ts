/**
 * `load`, called at most once per `ttlMs` (callers share the pending promise); a failed load is
 * forgotten at once, so the next call tries again instead of serving the failure for `ttlMs`.
 */
export function cachedFor<T>(ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let cached: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at > ttlMs) {
      const entry = { at: now, value: load() };
      cached = entry;
      entry.value.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.value;
  };
}
