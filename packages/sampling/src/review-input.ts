/**
 * One heatmap of a stored explanation, as the sampling policies need it: the engine's map
 * statistics (see `mapStatistics` in @gradcam/engine) and the min-max normalised map.
 */
export interface ReviewMap {
  readonly method: string;
  readonly classIndex: number;
  readonly width: number;
  readonly height: number;
  /** Row-major, 0…1 (min-max normalised), width × height cells. */
  readonly normalized: Float32Array;
  /** Share of the map's mass in the outer ring of cells, 0…1. */
  readonly borderMass: number;
  /** Normalised entropy, 0 (one peak) … 1 (flat). */
  readonly entropy: number;
}

/** What a review policy sees of one stored explanation. */
export interface ReviewInput {
  /** The inference id: the only source of randomness, so replays give the same decision. */
  readonly id: string;
  readonly model: string;
  readonly predictedClass: number;
  /** Class probabilities; may be empty when the model server sent no scores. */
  readonly probabilities: readonly number[];
  readonly maps: readonly ReviewMap[];
  /** Epoch ms of the event (the policies never read a clock of their own). */
  readonly now: number;
}
