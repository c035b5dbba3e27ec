import { describe, expect, it } from 'vitest';
import {
  calibrationRows,
  maxAbsErrorPct,
  RefPhase,
  RefQuality,
  referenceSetFor,
  referenceSets,
  referenceShape,
} from '../src/calibration.ts';
import { getProfile, ProfileName, profileNames } from '../src/profiles.ts';
import { kernelSeconds } from '../src/step-time.ts';

describe('calibration against the reference kernel step times', () => {
  it('llama3.1-8b-a100 (measured) is within 15 % of every reference point, decode and prefill', () => {
    const rows = calibrationRows(getProfile(ProfileName.llama31_8b_a100));
    expect(rows).toHaveLength(22);
    expect(rows.filter((r) => r.phase === RefPhase.decode)).toHaveLength(16);
    expect(rows.filter((r) => r.phase === RefPhase.prefill).map((r) => r.tokens)).toEqual([
      128, 512, 1024, 2048, 4096, 8192,
    ]);
    for (const r of rows) expect(Math.abs(r.errorPct), JSON.stringify(r)).toBeLessThan(15);
    // Current fit: max 6.3 % (prefill 1024). Keep headroom small enough to notice a regression.
    expect(maxAbsErrorPct(rows)).toBeLessThan(8);
  });

  it.each([ProfileName.llama31_8b_h100, ProfileName.llama31_70b_4xa100, ProfileName.llama31_70b_4xh100])(
    '%s (estimate/derived) is within 25 %% of every reference point',
    (name) => {
      const rows = calibrationRows(getProfile(name));
      expect(rows.length).toBeGreaterThanOrEqual(20);
      for (const r of rows) expect(Math.abs(r.errorPct), JSON.stringify(r)).toBeLessThan(25);
    },
  );

  it('llama3.1-70b-4xa100 misses only the noisy small-message all-reduce rows by more than 10 %', () => {
    // The reference's all-reduce at 8 and 64 tokens is a measurement bump (timings doc §3), which
    // the model deliberately smooths over: those rows are under-predicted, everything else is close.
    const rows = calibrationRows(getProfile(ProfileName.llama31_70b_4xa100));
    for (const r of rows) {
      if (r.phase === RefPhase.decode && (r.batch === 8 || r.batch === 64)) expect(r.errorPct).toBeLessThan(0);
      else expect(Math.abs(r.errorPct), JSON.stringify(r)).toBeLessThan(10);
    }
  });

  it('every registered profile has a reference set, and the 8B/A100 one is labelled measured', () => {
    for (const name of profileNames) expect(referenceSetFor(getProfile(name)), name).toBeDefined();
    expect(referenceSetFor(getProfile(ProfileName.llama31_8b_a100))?.quality).toBe(RefQuality.measured);
    expect(referenceSetFor(getProfile(ProfileName.llama31_8b_h100))?.quality).toBe(RefQuality.estimate);
    expect(referenceSets).toHaveLength(4);
  });

  it('rows report predicted = kernelSeconds in ms and the signed relative error', () => {
    const profile = getProfile(ProfileName.llama31_8b_a100);
    const set = referenceSetFor(profile);
    const rows = calibrationRows(profile);
    const point = set?.points[3];
    const row = rows[3];
    if (!point || !row) throw new Error('missing row');
    const predictedMs = kernelSeconds(profile, referenceShape(point)) * 1000;
    expect(row.predictedMs).toBeCloseTo(predictedMs, 9);
    expect(row.referenceMs).toBe(point.referenceMs);
    expect(row.errorPct).toBeCloseTo((100 * (predictedMs - point.referenceMs)) / point.referenceMs, 9);
  });

  it('reference shapes: decode reads batch × context KV tokens, prefill has tokens²/2 causal pairs', () => {
    expect(referenceShape({ phase: RefPhase.decode, batch: 8, context: 2048, tokens: 8, referenceMs: 1 })).toEqual({
      decodeSeqs: 8,
      decodeContextTokens: 16384,
      prefillTokens: 0,
      prefillSeqs: 0,
      prefillAttentionPairs: 0,
    });
    expect(referenceShape({ phase: RefPhase.prefill, batch: 1, context: 0, tokens: 1024, referenceMs: 1 })).toEqual({
      decodeSeqs: 0,
      decodeContextTokens: 0,
      prefillTokens: 1024,
      prefillSeqs: 1,
      prefillAttentionPairs: 524288,
    });
  });
});
