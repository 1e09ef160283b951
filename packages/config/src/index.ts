export { ConfigError } from './config-error.ts';
export { redactedUrl } from './redacted-url.ts';
export { usableTokenPattern } from './access-tokens.ts';
export { EnvReader, type Env } from './env-reader.ts';
export { logLevels, readCommonConfig, readQueueAccessConfig, type CommonConfig, type LogLevel, type StorageConfig } from './common-config.ts';
export { parseCapturePolicy, type CapturePolicy } from './capture-policy.ts';
export {
  checkServiceConfigs,
  readExporterConfig,
  readIngestConfig,
  readReviewConfig,
  readWorkerConfig,
  type ExporterConfig,
  type IngestConfig,
  type ReviewConfig,
  type WorkerConfig,
} from './service-configs.ts';
export { configErrorExitCode, exitOnConfigError, loadConfigOrExit } from './load-or-exit.ts';
export { childEnvironment, readLocalStackConfig, type LocalStackConfig } from './local-stack-config.ts';
