export { IngestClient, type BatchResult, type InferenceStatusBody, type IngestClientOptions } from './ingest-client.ts';
export { StackStartAbortedError, startLocalStack, stackFileName, type LocalStack, type LocalStackOptions } from './local-stack.ts';
export { ServiceExitedError, configErrorExitCode } from './service-exited-error.ts';
export { repoRoot, startService, waitUntilReady, type ServiceProcess, type StartServiceOptions } from './service-process.ts';
