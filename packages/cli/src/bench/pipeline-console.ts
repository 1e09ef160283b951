/**
 * The benchmark's output: results on stdout (table or JSON lines), everything else on stderr.
 * Progress overwrites one stderr line on a terminal; elsewhere (CI logs) a counter is printed at
 * most every few seconds, so it cannot flood the log.
 */
export class BenchConsole {
  private progressShown = false;
  private lastCounterAt = 0;
  /** The services' latest output, printed when the run fails (all of it with --verbose). */
  private readonly serviceTail: string[] = [];

  private readonly options: { readonly verbose: boolean; readonly tty: boolean };

  constructor(options: { readonly verbose: boolean; readonly tty: boolean }) {
    this.options = options;
  }

  private clearProgress(): void {
    if (this.progressShown) process.stderr.write('\r\x1b[K');
    this.progressShown = false;
  }

  out(text: string): void {
    this.clearProgress();
    process.stdout.write(`${text}\n`);
  }

  note(text: string): void {
    this.clearProgress();
    process.stderr.write(`${text}\n`);
  }

  /** A stage of the run. */
  progress(text: string): void {
    if (!this.options.tty) return this.note(text);
    process.stderr.write(`\r\x1b[K${text}`);
    this.progressShown = true;
  }

  /** A running count within a stage. */
  counter(text: string): void {
    if (this.options.tty) return this.progress(text);
    if (Date.now() - this.lastCounterAt < 5000) return;
    this.lastCounterAt = Date.now();
    this.note(text);
  }

  serviceLine(line: string): void {
    if (this.options.verbose) {
      this.note(line);
      return;
    }
    this.serviceTail.push(line);
    if (this.serviceTail.length > 40) this.serviceTail.shift();
  }

  printServiceTail(): void {
    if (this.options.verbose || this.serviceTail.length === 0) return;
    this.note(`last lines from the services:\n${this.serviceTail.map((l) => `  ${l}`).join('\n')}`);
  }
}
