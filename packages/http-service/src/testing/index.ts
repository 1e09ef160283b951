export { type Answer, answersAroundClose, assertShuttingDownAnswer, requestThrough, type RequestOptions } from './keep-alive-requests.ts';
export { type TrickledRequest, type TrickleOptions, trickleRequest } from './trickled-request.ts';
