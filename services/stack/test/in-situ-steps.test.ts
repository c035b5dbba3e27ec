import { describe, expect, it } from 'vitest';
import type { InSituSteps } from '../src/in-situ-steps.ts';
import { stepFactor, stepOverheadOf } from '../src/in-situ-steps.ts';

const at = (batch: number, samples: number, measuredMs: number, predictedMs: number): InSituSteps => ({ batch, samples, meanContext: 100, measuredMs, predictedMs });

describe('decode steps measured in situ against the profile', () => {
  it('weighs the slowdown by samples', () => {
    // 3 samples at 2x and 1 at 1x: (3·2 + 1·1) / (3·1 + 1·1).
    expect(stepFactor([at(1, 3, 2, 1), at(4, 1, 1, 1)])).toBeCloseTo(7 / 4, 12);
    expect(stepFactor([])).toBeNaN();
  });

  it('reads extra time a step as a base and a per-sequence term', () => {
    // 1 ms more at batch 1 and 3 ms more at batch 3: 0 ms + 1 ms a sequence.
    const o = stepOverheadOf([at(1, 10, 2, 1), at(3, 10, 6, 3)]);
    expect(o.baseSeconds).toBeCloseTo(0, 12);
    expect(o.perSeqSeconds).toBeCloseTo(0.001, 12);
    // Steps faster than the profile add nothing.
    expect(stepOverheadOf([at(2, 5, 1, 2)])).toEqual({ baseSeconds: 0, perSeqSeconds: 0 });
  });
});
