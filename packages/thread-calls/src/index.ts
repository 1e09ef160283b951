export { ThreadCalls, type ThreadCallsOptions } from './thread-calls.ts';
