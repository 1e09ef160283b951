export { createBearerAuth } from './bearer-tokens.ts';
