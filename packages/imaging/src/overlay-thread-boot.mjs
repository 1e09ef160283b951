// Entry of an overlay render thread. Worker threads do not inherit the TypeScript loader the
// process was started with, so the thread registers it before loading its TypeScript body.
import { register } from 'tsx/esm/api';

register();
await import('./overlay-thread.ts');
