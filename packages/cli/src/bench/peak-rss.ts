/**
 * Peak resident set size of this process since it started, in MB (`maxRSS` is in kilobytes): the
 * kernel's own high-water mark, so nothing between samples is missed.
 */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
