const bytesPerMb = 1024 * 1024;

/**
 * Peak resident set size over a window. The wasm backend's heap only grows, and a synchronous
 * kernel blocks timers, so the sample taken right after each engine call (`sample()`) catches the
 * peak; the timer covers the await gaps. `process.resourceUsage().maxRSS` is the process-wide
 * high-water mark since start, which is kept too but mixes every earlier model and batch.
 */
export class RssSampler {
  private peakBytes = process.memoryUsage.rss();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.peakBytes) this.peakBytes = rss;
  }

  /** Stops sampling; returns the window's peak in MB. Safe to call twice. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakBytes / bytesPerMb;
  }
}

/** Process-wide peak RSS since start, in MB (maxRSS is in kilobytes). */
export function processMaxRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
