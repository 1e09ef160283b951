export { createBearerAuth } from './bearer-tokens.ts';
export { tokenFingerprint } from './token-fingerprint.ts';
