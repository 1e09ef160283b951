export { ApiError, apiErrorBody, internalError, type InternalErrorReport, reportedApiError, sendApiError } from './api-error.ts';
export { NotReadyError } from './not-ready-error.ts';
export { type FrameworkErrorAnswers, frameworkErrorHandler, requestErrorAnswer } from './framework-errors.ts';
export { checkDependency, isPrometheusScrape, registerOperationalRoutes, type OperationalRoutes } from './operational-routes.ts';
export { type ServerTimeouts, idleSocketTimeoutMs, serverTimeouts, slowestUploadBytesPerSecond } from './server-timeouts.ts';
export { type ServiceServerLimits, defaultBodyLimit, registerServiceDefaults, serviceServerOptions } from './service-defaults.ts';
