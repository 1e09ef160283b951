export { normal, seededRandom, type Random } from './seeded-random.ts';
export { defaultClassPrior, syntheticPrediction, type SyntheticPrediction } from './synthetic-predictions.ts';
export { PoissonArrivals, type TrafficPhase } from './poisson-arrivals.ts';
export { blobMap, reviewInput, reviewMap } from './review-inputs.ts';
export { patternedIds } from './patterned-ids.ts';
