/**
 * A one-line progress bar on a TTY (redrawn in place), silent otherwise so logs and pipes stay
 * clean. Rate and ETA come from the wall clock since start: img/s counts explained images only (a
 * folder of broken files fails fast and would flatter it), the ETA every image finished.
 */
export class ProgressBar {
  private readonly started = performance.now();
  private done = 0;
  private failed = 0;

  private readonly total: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly width: number;

  constructor(
    total: number,
    stream: NodeJS.WriteStream = process.stderr,
    width = 28,
  ) {
    this.total = total;
    this.stream = stream;
    this.width = width;
  }

  get enabled(): boolean {
    return this.stream.isTTY === true && this.total > 1;
  }

  tick(succeeded: number, failed: number): void {
    this.done += succeeded + failed;
    this.failed += failed;
    if (!this.enabled) return;
    const ratio = this.done / this.total;
    const filled = Math.round(ratio * this.width);
    const seconds = (performance.now() - this.started) / 1000;
    const finishing = this.done / Math.max(seconds, 1e-3);
    const rate = (this.done - this.failed) / Math.max(seconds, 1e-3);
    // Nothing finished yet (the bar drawn at the start): no rate to tell an ETA from.
    const eta = finishing > 0 ? `${Math.ceil((this.total - this.done) / finishing)}s` : '…';
    const bar = '█'.repeat(filled) + '░'.repeat(this.width - filled);
    const failures = this.failed > 0 ? `  ${this.failed} failed` : '';
    this.stream.write(`\r${bar} ${this.done}/${this.total}  ${rate.toFixed(1)} img/s  eta ${eta}${failures}\x1b[K`);
  }

  /** Clears the bar so the next line starts clean (e.g. an error message or the summary). */
  clear(): void {
    if (this.enabled) this.stream.write('\r\x1b[K');
  }
}
