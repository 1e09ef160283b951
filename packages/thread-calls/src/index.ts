export { ThreadCalls, type ThreadCallsOptions, threadProgress } from './thread-calls.ts';
export { ThreadStuckError } from './thread-stuck-error.ts';
