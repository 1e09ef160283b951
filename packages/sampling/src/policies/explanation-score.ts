import { hasMass, topTwoOverlap } from '../map-suspicion.ts';
import type { ReviewDecision } from '../review-decision.ts';
import type { ReviewMap } from '../review-input.ts';
import { formatNumber, formatParameter, notSampled, type PolicyVerdict, type ReviewPolicy } from '../review-policy.ts';
import { topTwo } from '../top-two.ts';

/** Each rule is optional; an explanation is sampled when any given rule fires. */
export interface ExplanationScoreOptions {
  /** A map of the predicted class with borderMass above this ("looking at the frame"). */
  readonly borderAbove?: number;
  /** A map of the predicted class with entropy above this (diffuse: looking at nothing). */
  readonly entropyAbove?: number;
  /** A map of the predicted class with entropy below this (one hot cell: a shortcut?); a map with no mass is not peaked. */
  readonly entropyBelow?: number;
  /** The top-2 classes' maps (same method) overlapping less than this (histogram intersection). */
  readonly overlapBelow?: number;
}

interface MapRule {
  readonly text: string;
  readonly reason: ReviewDecision['reason'];
  readonly fires: (map: ReviewMap) => boolean;
  readonly detail: (map: ReviewMap) => string;
}

function checked(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(value >= 0 && value <= 1)) throw new RangeError(`explanationScore: ${name} must be in [0, 1], got ${value}`);
  return value;
}

const where = (map: ReviewMap): string => `${map.method} map of class ${map.classIndex}`;

/**
 * Suspicious heatmaps: the rules read the engine's map statistics of every map of the predicted
 * class (any method), and the overlap of the top-2 classes' maps when both were computed.
 */
export function explanationScore(options: ExplanationScoreOptions): ReviewPolicy {
  const borderAbove = checked('borderAbove', options.borderAbove);
  const entropyAbove = checked('entropyAbove', options.entropyAbove);
  const entropyBelow = checked('entropyBelow', options.entropyBelow);
  const overlapBelow = checked('overlapBelow', options.overlapBelow);
  const rules: MapRule[] = [];
  if (borderAbove !== undefined) {
    const text = `border>${formatParameter(borderAbove)}`;
    rules.push({ text, reason: 'border-mass', fires: (m) => m.borderMass > borderAbove, detail: (m) => `${where(m)}: border mass ${formatNumber(m.borderMass)}>${formatNumber(borderAbove)}` });
  }
  if (entropyAbove !== undefined) {
    const text = `entropy>${formatParameter(entropyAbove)}`;
    rules.push({ text, reason: 'diffuse-map', fires: (m) => m.entropy > entropyAbove, detail: (m) => `${where(m)}: entropy ${formatNumber(m.entropy)}>${formatNumber(entropyAbove)}` });
  }
  if (entropyBelow !== undefined) {
    const text = `entropy<${formatParameter(entropyBelow)}`;
    rules.push({ text, reason: 'peaked-map', fires: (m) => m.entropy < entropyBelow && hasMass(m), detail: (m) => `${where(m)}: entropy ${formatNumber(m.entropy)}<${formatNumber(entropyBelow)}` });
  }
  const overlapText = overlapBelow === undefined ? undefined : `overlap<${formatParameter(overlapBelow)}`;
  const texts = [...rules.map((r) => r.text), ...(overlapText === undefined ? [] : [overlapText])];
  if (texts.length === 0) throw new RangeError('explanationScore: give at least one of borderAbove, entropyAbove, entropyBelow, overlapBelow');
  const text = texts.join('|');
  const no = notSampled(text);

  return {
    describe: () => text,
    decide: (input): PolicyVerdict => {
      for (const rule of rules) {
        for (const map of input.maps) {
          if (map.classIndex === input.predictedClass && rule.fires(map)) return { sampled: true, term: rule.text, reason: rule.reason, detail: rule.detail(map) };
        }
      }
      if (overlapBelow !== undefined && overlapText !== undefined && input.maps.length > 1) {
        const top = topTwo(input.probabilities);
        const found = topTwoOverlap(input, top.firstClass, top.secondClass);
        if (found && found.overlap < overlapBelow) {
          const detail = `${found.method} maps of classes ${top.firstClass} and ${top.secondClass}: overlap ${formatNumber(found.overlap)}<${formatNumber(overlapBelow)}`;
          return { sampled: true, term: overlapText, reason: 'class-maps-disagree', detail };
        }
      }
      return no;
    },
  };
}
