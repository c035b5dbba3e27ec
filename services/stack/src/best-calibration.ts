import { ConfigError } from '@autellix/core';

/** How often an idle calibration may be taken, and the fit error that is good enough to stop. */
export interface CalibrationRetry {
  /** Most measurements in all (≥ 1). */
  readonly tries: number;
  /** A fit that reproduces its own points within this mean error (%) is kept at once. */
  readonly goodEnoughPct: number;
}

/**
 * The llama bench's default: on this machine calibrations fitted their own points within
 * 5.7-12.1 % on average (docs/benchmarks.md); one at 20.3 % was taken while the host was busy,
 * and its under-load decode steps then measured faster than its idle ones.
 */
export const DEFAULT_CALIBRATION_RETRY: CalibrationRetry = { tries: 3, goodEnoughPct: 13 };

/**
 * Takes `measure` until its fit reproduces its own points within `retry.goodEnoughPct` on
 * average, at most `retry.tries` times, and returns the best one taken (lowest mean error; the
 * earliest of equals) with the number taken. Each rejected measurement is logged.
 * @throws ConfigError when `tries` is not an integer ≥ 1 or `goodEnoughPct` not a number ≥ 0.
 */
export async function bestCalibration<T extends { readonly fit: { readonly meanAbsErrorPct: number } }>(
  measure: () => Promise<T>,
  retry: CalibrationRetry,
  log: (line: string) => void,
): Promise<{ readonly best: T; readonly taken: number }> {
  if (!Number.isSafeInteger(retry.tries) || retry.tries < 1) throw new ConfigError(`calibration tries ${retry.tries}: expected an integer >= 1`);
  if (!(retry.goodEnoughPct >= 0)) throw new ConfigError(`calibration goodEnoughPct ${retry.goodEnoughPct}: expected a number >= 0`);
  let best: T | null = null;
  let taken = 0;
  while (taken < retry.tries) {
    const c = await measure();
    taken += 1;
    if (best === null || c.fit.meanAbsErrorPct < best.fit.meanAbsErrorPct) best = c;
    if (c.fit.meanAbsErrorPct <= retry.goodEnoughPct) break;
    if (taken < retry.tries) {
      log(`  the fit misses its own points by ${c.fit.meanAbsErrorPct.toFixed(1)} % on average (over ${retry.goodEnoughPct} %): measuring again`);
    }
  }
  return { best: best as T, taken };
}
