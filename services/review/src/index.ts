// The service's parts, for tests and tools that build it without its composition root (main.ts).
export { createApp, type ReviewAppDeps } from './app.ts';
export { ReviewDesk, type ReviewDeskDeps, type ReviewPacket } from './review-desk.ts';
export { ReviewDeskError } from './review-desk-error.ts';
