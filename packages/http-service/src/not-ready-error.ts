/**
 * Why /readyz answers 503, in words anyone may read: its message is the answer's `reason`
 * (`redis: unavailable`, `1 of 2 engine processes ready`). The dependency's own error, which may
 * name hosts, paths or keys, is its `cause`, for the service's log.
 */
export class NotReadyError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'NotReadyError';
  }
}
