import { ConfigError } from '@gradcam/config';

/**
 * How an engine process that drained because its resident memory passed GRADCAM_ENGINE_MAX_RSS_MB
 * exits, so that its supervisor counts the restart apart (reason memory_ceiling): a planned
 * recycle, not a crash.
 */
export const memoryCeilingExitCode = 76;

const megabytes = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;

/**
 * Refuses a ceiling the engine process is already over once its models are loaded and its batch
 * sizes warmed up, before it takes a job: it would drain as soon as it started, and its
 * replacement likewise, for ever. Over 80% of it is a warning: some room is left, but every batch of
 * large images will take the process past it.
 */
export function checkMemoryCeilingAtStart(maxRssBytes: number, rssBytes: number): string | undefined {
  if (maxRssBytes === 0) return undefined;
  if (rssBytes >= maxRssBytes) {
    throw new ConfigError(
      'GRADCAM_ENGINE_MAX_RSS_MB',
      `is ${megabytes(maxRssBytes)}, but this engine process already holds ${megabytes(rssBytes)} with its models loaded and warmed up: it would drain as soon as it started. Raise it above ${megabytes(rssBytes)} plus what a batch of your largest images needs, or set 0 for no ceiling`,
    );
  }
  if (rssBytes > 0.8 * maxRssBytes) {
    return `GRADCAM_ENGINE_MAX_RSS_MB (${megabytes(maxRssBytes)}) leaves little room over the ${megabytes(rssBytes)} this engine process holds warmed up: large images will make it restart often`;
  }
  return undefined;
}

export interface MemoryCeilingWatch {
  stop(): void;
}

/**
 * Reads the resident memory every `everyMs` and calls `onOver` once, the first time it is at or
 * past `maxRssBytes` (0: never). Between batches is enough: what a process holds only steps up,
 * and the drain that follows finishes the batches in flight anyway.
 */
export function watchMemoryCeiling(
  maxRssBytes: number,
  onOver: (rssBytes: number) => void,
  { everyMs = 5_000, rss = () => process.memoryUsage.rss() }: { everyMs?: number; rss?: () => number } = {},
): MemoryCeilingWatch {
  if (maxRssBytes === 0) return { stop: () => {} };
  const timer = setInterval(() => {
    const rssBytes = rss();
    if (rssBytes < maxRssBytes) return;
    clearInterval(timer);
    onOver(rssBytes);
  }, everyMs);
  // The process exits when its work is done, not when this watch would have looked again.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The line an engine process logs as it starts draining at its ceiling. */
export function memoryCeilingMessage(rssBytes: number, maxRssBytes: number): string {
  return `resident memory ${megabytes(rssBytes)} is at or past GRADCAM_ENGINE_MAX_RSS_MB (${megabytes(maxRssBytes)}): taking no more jobs, finishing the batches held, then exiting for a fresh process (what an engine process holds never shrinks)`;
}
