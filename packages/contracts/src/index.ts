export * from './capture-decision.ts';
export * from './explain-job.ts';
export * from './ids.ts';
export * from './inference-record.ts';
export * from './manifest.ts';
export * from './prediction-document.ts';
export * from './preprocessing.ts';
export * from './storage-keys.ts';
