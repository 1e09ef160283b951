export { ThreadCalls, type ThreadCallsOptions } from './thread-calls.ts';
export { ThreadStuckError } from './thread-stuck-error.ts';
