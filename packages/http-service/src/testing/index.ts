export { type Answer, answersAroundClose, assertShuttingDownAnswer, requestThrough, type RequestOptions } from './keep-alive-requests.ts';
export { type StreamedRequest, type StreamOptions, streamRequest } from './streamed-request.ts';
export { type TrickledRequest, type TrickleOptions, trickleRequest } from './trickled-request.ts';
