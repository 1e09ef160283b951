import { parseDecimal } from '@gradcam/sampling';
import { ConfigError } from './config-error.ts';

/**
 * Which inferences ingest sends to be explained. Terms are OR-ed: an inference is explained when
 * any term selects it. `all` and `none` stand alone.
 *   all | none | rate=0.1 | confidence<0.6 | classes=2|3   (terms joined by ",")
 */
export interface CapturePolicy {
  /** The policy as configured, recorded with every decision so audits can replay it. */
  readonly text: string;
  readonly all: boolean;
  /** Share of inferences chosen uniformly (deterministic per id); 0 = off. */
  readonly rate: number;
  /** Inferences whose top score is below this are explained; 0 = off. */
  readonly confidenceBelow: number;
  readonly classes: readonly number[];
}

const variable = 'GRADCAM_CAPTURE_POLICY';

function fraction(term: string, raw: string): number {
  const value = parseDecimal(raw);
  if (value === undefined || value < 0 || value > 1) throw new ConfigError(variable, `"${term}": expected a decimal number from 0 to 1`);
  return value;
}

export function parseCapturePolicy(text: string): CapturePolicy {
  const terms = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  if (terms.length === 0) throw new ConfigError(variable, 'is empty; use all, none, or terms like rate=0.1,confidence<0.6,classes=2|3');
  if (terms.length === 1 && (terms[0] === 'all' || terms[0] === 'none')) {
    return { text, all: terms[0] === 'all', rate: 0, confidenceBelow: 0, classes: [] };
  }
  const alone = terms.find((t) => t === 'all' || t === 'none');
  if (alone !== undefined) throw new ConfigError(variable, `"${alone}" stands alone; use it by itself, or terms like rate=0.1,confidence<0.6,classes=2|3`);
  let rate = 0;
  let confidenceBelow = 0;
  let classes: number[] = [];
  // A repeated kind would silently replace the earlier term (classes=1,classes=2 → [2]).
  const seen = new Set<string>();
  for (const term of terms) {
    const kind = /^[a-z]+[<=]?/.exec(term)?.[0] ?? term;
    if (seen.has(kind)) throw new ConfigError(variable, `"${term}": "${kind}" is given twice; join classes as classes=A|B`);
    seen.add(kind);
    const rateMatch = /^rate=(.*)$/.exec(term);
    const confidenceMatch = /^confidence<(.*)$/.exec(term);
    const classesMatch = /^classes=(.*)$/.exec(term);
    if (rateMatch) rate = fraction(term, rateMatch[1] as string);
    else if (confidenceMatch) confidenceBelow = fraction(term, confidenceMatch[1] as string);
    else if (classesMatch) {
      classes = (classesMatch[1] as string).split('|').map((c) => {
        if (!/^\d+$/.test(c)) throw new ConfigError(variable, `"${term}": expected class indices separated by "|"`);
        return Number(c);
      });
    } else {
      throw new ConfigError(variable, `unknown term "${term}"; use all, none, rate=R, confidence<T or classes=A|B`);
    }
  }
  return { text, all: false, rate, confidenceBelow, classes };
}
