/** The two highest class probabilities and their classes; -1 / 0 where absent. */
export interface TopTwo {
  readonly first: number;
  readonly firstClass: number;
  readonly second: number;
  readonly secondClass: number;
}

export function topTwo(probabilities: readonly number[]): TopTwo {
  let first = 0;
  let firstClass = -1;
  let second = 0;
  let secondClass = -1;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i] as number;
    // `!(p <= …)` rather than `p > …` so NaN scores never become the top class.
    if (!(p <= first) && !Number.isNaN(p)) {
      second = first;
      secondClass = firstClass;
      first = p;
      firstClass = i;
    } else if (p > second) {
      second = p;
      secondClass = i;
    }
  }
  return { first, firstClass, second, secondClass };
}
