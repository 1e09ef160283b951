export { closeConnection, closeConnections, connectionReady, createProducerConnection, createWorkerConnection, type ConnectionErrorListener, type ConnectionOptions } from './connections.ts';
export { clusterMode, clusterNodeError, refuseClusterNode, type ClusterMode } from './cluster-node-check.ts';
export { createExplainQueue, enqueueExplainJobs, type ExplainQueue, type ExplainQueueOptions } from './explain-queue.ts';
export { defaultQueuePrefix, explainJob, maxFailedJobsKept, type JobDefinition, type RetryAndRetentionOptions } from './job-catalog.ts';
export {
  batchFailedCode,
  errorCode,
  formatFailedReason,
  isPermanent,
  isolatingSuspectCode,
  jobFailedCode,
  jobInvalidCode,
  jobStalledCode,
  parseFailedReason,
  type JobFailure,
} from './job-failure.ts';
export { countedJobStates, queueDepth, queueJobCounts, workerCount, type CountedJobState, type JobCounts } from './queue-counts.ts';
export { jobStatus, type JobStatus } from './job-status.ts';
export { RetryFailedJobsError, findFailedJobs, retryFailedJobs, type FailedJob, type FindFailedJobsOptions, type RetryFailedJobsOptions, type RetryFailedJobsResult } from './failed-jobs.ts';
export { purgeJobEvents, purgeJobsEvents, purgeChunkEntries } from './purge-job-events.ts';
export { JobEventsPurger, defaultMaxIdsPerScan, type JobEventsPurgerOptions, type PurgeScan } from './job-events-purger.ts';
export { removeStrandedJobs, type StrandedJobCandidate, type StrandedJobCheck } from './stranded-jobs.ts';
export { redisAnsweredWithError, redisCall, redisOutOfMemory } from './queue-availability.ts';
export { trimFailedJobs, type TrimFailedJobsOptions } from './trim-failed-jobs.ts';
export { MicroBatcher, type BatchOutcome, type BatchReport, type MicroBatcherOptions, type ProcessBatch } from './micro-batcher.ts';
export {
  createBatchingWorker,
  type BatchJob,
  type BatchingWorker,
  type BatchingWorkerHooks,
  type BatchingWorkerOptions,
  type JobFinishedEvent,
} from './batching-worker.ts';
export { BatchFailedError } from './errors/batch-failed-error.ts';
export { DeferJobError } from './errors/defer-job-error.ts';
export { JobInvalidError } from './errors/job-invalid-error.ts';
export { PermanentJobError } from './errors/permanent-job-error.ts';
export { QueueUnavailableError } from './errors/queue-unavailable-error.ts';
