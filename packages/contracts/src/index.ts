export * from './preprocessing.ts';
