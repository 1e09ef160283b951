import { type CommitEntry, type CommitResult, InferenceIndex } from '../inference-index.ts';

/**
 * An index whose next commit fails once `failNext` is set, after the enqueue (as when Redis drops
 * between the two): the request answers 503 ACCEPT_INCOMPLETE with its jobs queued.
 */
export class CommitFailsOnce extends InferenceIndex {
  failNext = false;
  override async commit(holder: string, entries: readonly CommitEntry[]): Promise<CommitResult[]> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('connection lost');
    }
    return super.commit(holder, entries);
  }
}
