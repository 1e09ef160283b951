export { IngestClient, type BatchResult, type InferenceStatusBody, type IngestClientOptions } from './ingest-client.ts';
export { StackStartAbortedError, startLocalStack, type LocalStack, type LocalStackOptions, type StackS3 } from './local-stack.ts';
export { LocalStackError, type LocalStackErrorCode } from './local-stack-error.ts';
export { ServiceExitedError } from './service-exited-error.ts';
export { repoRoot, startService, waitUntilReady, type ServiceProcess, type StartServiceOptions } from './service-process.ts';
export { readStackFile, stackFileName, type StackFile } from './stack-file.ts';
