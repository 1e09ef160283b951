export { ExplanationNotFiniteError, artifactStem, buildImageArtifacts, type ArtifactFile, type ImageArtifacts, type ImageArtifactsInput } from './build-artifacts.ts';
export { fingerprint } from './engine-fingerprint.ts';
