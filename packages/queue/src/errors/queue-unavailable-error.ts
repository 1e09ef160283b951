/**
 * Redis could not take or answer a request right now (down, reconnecting, out of memory).
 * Producers see this at once instead of waiting, so an HTTP front end can answer 503.
 */
export class QueueUnavailableError extends Error {
  readonly code = 'QUEUE_UNAVAILABLE';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueueUnavailableError';
  }
}
