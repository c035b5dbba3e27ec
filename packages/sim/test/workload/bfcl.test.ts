import { ConfigError, createRng } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { createBfcl } from '../../src/workload/bfcl.ts';
import { generatePrograms, summarizePrograms } from '../../src/workload/generators.ts';

const within = (x: number, target: number, tol = 0.1) => Math.abs(x / target - 1) <= tol;

describe('bfcl generator', () => {
  const programs = generatePrograms('bfcl', { seed: 12, count: 2000, rate: 1 });
  const stats = summarizePrograms(programs);

  it('matches the paper table within 10% (10.75 / 70 calls, 735 in, 34 out)', () => {
    expect(within(stats.callsPerProgramMean, 10.75)).toBe(true);
    expect(stats.callsPerProgramMax).toBeLessThanOrEqual(70);
    expect(within(stats.inputMean, 735)).toBe(true);
    expect(within(stats.outputMean, 34)).toBe(true);
    expect(stats.maxContext).toBeLessThanOrEqual(32768);
  });

  it('is a chain with tool delays (mean 0.5 s) and a large shared tool-schema prompt', () => {
    let delay = 0;
    let n = 0;
    for (const p of programs) {
      expect(p.kind).toBe('bfcl');
      p.calls.forEach((c, i) => {
        expect(c.parents).toEqual(i === 0 ? [] : [p.calls[i - 1]?.id]);
        if (i === 0) {
          expect(c.delay).toBe(0);
          expect(c.shared).toEqual({ id: 'bfcl-tools', tokens: 1500 });
        } else {
          delay += c.delay;
          n++;
        }
      });
    }
    expect(within(delay / n, 0.5)).toBe(true);
  });

  it('draws among several tool-schema prompts when sharedVariants > 1', () => {
    const gen = createBfcl({ sharedVariants: 4 });
    const rng = createRng(1);
    const ids = new Set(Array.from({ length: 200 }, () => gen(rng).calls[0]?.shared?.id));
    expect(ids).toEqual(new Set(['bfcl-tools-0', 'bfcl-tools-1', 'bfcl-tools-2', 'bfcl-tools-3']));
  });

  it('rejects bad options', () => {
    expect(() => createBfcl({ sharedVariants: 0 })).toThrow(ConfigError);
    expect(() => createBfcl({ toolDelayMean: Number.NaN })).toThrow(ConfigError);
    expect(() => createBfcl({ shared: { id: '', tokens: 10 } })).toThrow(ConfigError);
  });
});
