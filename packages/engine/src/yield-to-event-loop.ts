/**
 * Lets timers and I/O run (a macrotask, not a microtask). On the CPU and wasm backends kernels run
 * synchronously on the calling thread, so a long engine call is one stretch of the event loop
 * unless it yields: a worker's job-lock renewals and its /metrics would wait for all of it.
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
