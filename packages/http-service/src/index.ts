export { ApiError, apiErrorBody, dependencyUnavailable, internalError, reportedApiError, sendApiError, type ServerErrorReport } from './api-error.ts';
export { failureKind, logServerErrors, type ServerErrorLog } from './server-error-log.ts';
export { type JsonCounts, jsonBounds, jsonCounts, registerBoundedJsonParser } from './bounded-json-parser.ts';
export { NotReadyError } from './not-ready-error.ts';
export { charsetRefusal, utf8Text } from './utf8-body.ts';
export { type FrameworkErrorAnswers, frameworkErrorHandler, requestErrorAnswer } from './framework-errors.ts';
export { checkDependency, isPrometheusScrape, registerOperationalRoutes, scrapeWaitMs, type OperationalRoutes } from './operational-routes.ts';
export { type ServerTimeouts, idleSocketTimeoutMs, serverTimeouts, slowestUploadBytesPerSecond } from './server-timeouts.ts';
export { type ServiceServerLimits, defaultBodyLimit, registerServiceDefaults, serviceServerOptions } from './service-defaults.ts';
