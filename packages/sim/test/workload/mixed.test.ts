import { describe, expect, it } from 'vitest';
import { generatePrograms, summarizePrograms } from '../../src/workload/generators.ts';

const within = (x: number, target: number, tol = 0.1) => Math.abs(x / target - 1) <= tol;

describe('mixed generator', () => {
  const programs = generatePrograms('mixed', { seed: 14, count: 3000, rate: 1 });

  it('draws the three kinds in about equal shares', () => {
    for (const kind of ['sharegpt', 'bfcl', 'lats']) {
      const share = programs.filter((p) => p.kind === kind).length / programs.length;
      expect(Math.abs(share - 1 / 3)).toBeLessThan(0.04);
    }
  });

  it('keeps each kind on its own table row', () => {
    const table = { sharegpt: [6.66, 256, 277], bfcl: [10.75, 735, 34], lats: [160, 467, 73] } as const;
    for (const [kind, [calls, input, output]] of Object.entries(table)) {
      const s = summarizePrograms(programs.filter((p) => p.kind === kind));
      expect(within(s.callsPerProgramMean, calls, 0.12)).toBe(true);
      expect(within(s.inputMean, input)).toBe(true);
      expect(within(s.outputMean, output)).toBe(true);
    }
  });

  it('applies per-kind options', () => {
    const ps = generatePrograms('mixed', { seed: 14, count: 60, rate: 1, options: { bfcl: { toolDelayMean: 0 } } });
    const bfcl = ps.filter((p) => p.kind === 'bfcl');
    expect(bfcl.length).toBeGreaterThan(0);
    expect(bfcl.every((p) => p.calls.every((c) => c.delay === 0))).toBe(true);
  });
});
