import { ConfigError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { bestCalibration } from '../src/best-calibration.ts';

/** Measurements whose fits miss their points by `errors` in turn. */
function series(errors: number[]) {
  let i = 0;
  return () => Promise.resolve({ id: i, fit: { meanAbsErrorPct: errors[i++] ?? Number.NaN } });
}

describe('bestCalibration', () => {
  it('keeps the first calibration that is good enough', async () => {
    const lines: string[] = [];
    const r = await bestCalibration(series([8, 5]), { tries: 3, goodEnoughPct: 13 }, (l) => lines.push(l));
    expect(r).toMatchObject({ taken: 1, best: { id: 0 } });
    expect(lines).toEqual([]);
  });

  it('measures again after a poor fit, and stops at the first good one', async () => {
    const lines: string[] = [];
    const r = await bestCalibration(series([20.3, 9, 4]), { tries: 3, goodEnoughPct: 13 }, (l) => lines.push(l));
    expect(r).toMatchObject({ taken: 2, best: { id: 1 } });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/20\.3 %/);
  });

  it('after every try, keeps the best of the poor ones (the earliest of equals)', async () => {
    expect(await bestCalibration(series([30, 18, 25]), { tries: 3, goodEnoughPct: 13 }, () => {})).toMatchObject({ taken: 3, best: { id: 1 } });
    expect(await bestCalibration(series([18, 18]), { tries: 2, goodEnoughPct: 13 }, () => {})).toMatchObject({ taken: 2, best: { id: 0 } });
  });

  it('refuses no tries or a bad threshold', async () => {
    await expect(bestCalibration(series([1]), { tries: 0, goodEnoughPct: 13 }, () => {})).rejects.toBeInstanceOf(ConfigError);
    await expect(bestCalibration(series([1]), { tries: 1, goodEnoughPct: Number.NaN }, () => {})).rejects.toBeInstanceOf(ConfigError);
  });
});
