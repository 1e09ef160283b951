export { type Answer, answersAroundClose, assertShuttingDownAnswer, requestThrough, type RequestOptions } from './keep-alive-requests.ts';
