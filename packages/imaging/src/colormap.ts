/** Colormaps for heatmaps. Turbo is the default: perceptually smoother than jet, same look. */
export type ColormapName = 'turbo' | 'jet' | 'viridis';

export const colormapNames: readonly ColormapName[] = ['turbo', 'jet', 'viridis'];

type ColorFunction = (t: number) => readonly [number, number, number];

/**
 * Turbo (Anton Mikhailov, Google, Apache-2.0) sampled every 8th entry of its published 256-entry
 * table, plus the last; linear interpolation between these stops stays within 3 levels of the
 * full table everywhere. (Google's well-known 5th-degree polynomial fit is off by ~30 levels of
 * blue at the dark end, which is most of a Grad-CAM overlay.)
 */
const TURBO_STOPS: readonly (readonly [number, number, number])[] = [
  [48, 18, 59], [57, 42, 115], [64, 64, 162], [68, 86, 199], [70, 107, 227], [70, 128, 246],
  [66, 148, 255], [55, 168, 250], [40, 188, 235], [28, 205, 216], [24, 221, 194], [31, 233, 175],
  [50, 242, 152], [78, 249, 125], [109, 254, 98], [139, 255, 75], [164, 252, 60], [185, 246, 53],
  [205, 236, 52], [223, 223, 55], [238, 207, 58], [248, 190, 57], [253, 172, 52], [254, 150, 43],
  [251, 126, 33], [244, 102, 23], [235, 80, 14], [223, 63, 8], [208, 47, 5], [190, 33, 2],
  [169, 22, 1], [146, 11, 1], [122, 4, 3],
];
/** Stops sit at table indices 0, 8, …, 248, and 255 for the last. */
function turbo(t: number): [number, number, number] {
  const index = t * 255;
  const k = Math.min(Math.floor(index / 8), TURBO_STOPS.length - 2);
  const lowIndex = k * 8;
  const highIndex = Math.min(lowIndex + 8, 255);
  const w = (index - lowIndex) / (highIndex - lowIndex);
  const low = TURBO_STOPS[k]!;
  const high = TURBO_STOPS[k + 1]!;
  return [
    (low[0] + (high[0] - low[0]) * w) / 255,
    (low[1] + (high[1] - low[1]) * w) / 255,
    (low[2] + (high[2] - low[2]) * w) / 255,
  ];
}

/* Jet and viridis are closed forms, accurate to a few 8-bit levels. */
const COLOR_FUNCTIONS: Readonly<Record<ColormapName, ColorFunction>> = {
  turbo,
  // MATLAB's jet: piecewise-linear ramps.
  jet: (t) => [
    1.5 - Math.abs(4 * t - 3),
    1.5 - Math.abs(4 * t - 2),
    1.5 - Math.abs(4 * t - 1),
  ],
  // Degree-6 polynomial fit of matplotlib's viridis (CC0), Horner form.
  viridis: (t) => [
    0.2777273272234177 + t * (0.1050930431085774 + t * (-0.3308618287255563 + t * (-4.634230498983486 + t * (6.228269936347081 + t * (4.776384997670288 + t * -5.435455855934631))))),
    0.005407344544966578 + t * (1.404613529898575 + t * (0.214847559468213 + t * (-5.799100973351585 + t * (14.17993336680509 + t * (-13.74514537774601 + t * 4.645852612178535))))),
    0.3340998053353061 + t * (1.384590162594685 + t * (0.09509516302823659 + t * (-19.33244095627987 + t * (56.69055260068105 + t * (-65.35303263337234 + t * 26.3124352495832))))),
  ],
};

const cache = new Map<ColormapName, Uint8Array>();

/**
 * The shared, cached 256 × RGB table for `name` (index = round(value × 255)). Internal callers
 * read it per pixel; it must not be written to.
 */
export function sharedColormapLut(name: ColormapName): Uint8Array {
  let lut = cache.get(name);
  if (lut === undefined) {
    const color = COLOR_FUNCTIONS[name];
    if (color === undefined) throw new RangeError(`unknown colormap "${String(name)}"; use one of ${colormapNames.join(', ')}`);
    lut = new Uint8Array(256 * 3);
    for (let i = 0; i < 256; i++) {
      const [r, g, b] = color(i / 255);
      lut[i * 3] = toByte(r);
      lut[i * 3 + 1] = toByte(g);
      lut[i * 3 + 2] = toByte(b);
    }
    cache.set(name, lut);
  }
  return lut;
}

function toByte(unit: number): number {
  return Math.round(Math.min(Math.max(unit, 0), 1) * 255);
}

/** A 256 × RGB lookup table (768 bytes, entry i is the colour of value i / 255). A copy: callers may modify it. */
export function colormapLut(name: ColormapName): Uint8Array {
  return sharedColormapLut(name).slice();
}
