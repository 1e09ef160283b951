export { ApiError, apiErrorBody, internalError, reportedApiError, sendApiError } from './api-error.ts';
export { type FrameworkErrorAnswers, frameworkErrorHandler, requestErrorAnswer } from './framework-errors.ts';
export { isPrometheusScrape, registerOperationalRoutes, type OperationalRoutes } from './operational-routes.ts';
export { registerServiceDefaults, serviceFastifyOptions } from './service-defaults.ts';
