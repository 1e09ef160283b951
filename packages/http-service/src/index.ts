export { registerOperationalRoutes, type OperationalRoutes } from './operational-routes.ts';
