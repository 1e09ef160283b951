import { type CommitEntry, type CommitResult, InferenceIndex } from '../inference-index.ts';

/**
 * An index whose next commit fails once `failNext` is set (and which runs `beforeCommit` first), after the enqueue (as when Redis drops
 * between the two): the request answers 503 ACCEPT_INCOMPLETE with its jobs queued.
 */
export class CommitFailsOnce extends InferenceIndex {
  failNext = false;
  /** Run before each commit (another attempt failing an add of the id meanwhile). */
  beforeCommit?: (() => Promise<unknown>) | undefined;
  override async commit(holder: string, entries: readonly CommitEntry[]): Promise<CommitResult[]> {
    await this.beforeCommit?.();
    if (this.failNext) {
      this.failNext = false;
      throw new Error('connection lost');
    }
    return super.commit(holder, entries);
  }
}
