import { ConfigError, createRng } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { generatePrograms, summarizePrograms } from '../../src/workload/generators.ts';
import { createShareGpt } from '../../src/workload/sharegpt.ts';

const within = (x: number, target: number, tol = 0.1) => Math.abs(x / target - 1) <= tol;

describe('sharegpt generator', () => {
  const programs = generatePrograms('sharegpt', { seed: 11, count: 2000, rate: 1 });
  const stats = summarizePrograms(programs);

  it('matches the paper table within 10% (6.66 / 80 calls, 256 in, 277 out)', () => {
    expect(within(stats.callsPerProgramMean, 6.66)).toBe(true);
    expect(stats.callsPerProgramMax).toBeLessThanOrEqual(80);
    expect(within(stats.inputMean, 256)).toBe(true);
    expect(within(stats.outputMean, 277)).toBe(true);
    expect(stats.maxContext).toBeLessThanOrEqual(32768);
  });

  it('is a chain in one thread with the shared system prompt on the root and 0 s think time', () => {
    for (const p of programs) {
      expect(p.kind).toBe('sharegpt');
      p.calls.forEach((c, i) => {
        expect(c.parents).toEqual(i === 0 ? [] : [p.calls[i - 1]?.id]);
        expect(c.thread).toBe('main');
        expect(c.delay).toBe(0);
        expect(c.shared).toEqual(i === 0 ? { id: 'sharegpt-system', tokens: 100 } : undefined);
      });
    }
  });

  it('has heavy-tailed token counts', () => {
    const outputs = programs.flatMap((p) => p.calls.map((c) => c.output)).sort((a, b) => a - b);
    const p99 = outputs[Math.floor(outputs.length * 0.99)] ?? 0;
    expect(p99).toBeGreaterThan(3 * 277);
  });

  it('honours think time and truncates chains at maxContext', () => {
    const gen = createShareGpt({ thinkTimeMean: 2, maxContext: 8000 });
    const rng = createRng(3);
    let delays = 0;
    let n = 0;
    for (let i = 0; i < 500; i++) {
      const body = gen(rng);
      let ctx = 100;
      for (const c of body.calls) {
        ctx += c.input + c.output;
        expect(ctx).toBeLessThanOrEqual(8000);
        if (c.parents.length > 0) {
          delays += c.delay;
          n++;
        }
      }
    }
    expect(within(delays / n, 2)).toBe(true);
  });

  it('rejects options whose root cannot fit in maxContext', () => {
    expect(() => createShareGpt({ maxContext: 1000 })).toThrow(ConfigError);
    expect(() => createShareGpt({ thinkTimeMean: -1 })).toThrow(ConfigError);
  });
});
