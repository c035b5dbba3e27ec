import { ConfigError, createRng } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { generatePrograms, summarizePrograms } from '../../src/workload/generators.ts';
import { createLats } from '../../src/workload/lats.ts';

const within = (x: number, target: number, tol = 0.1) => Math.abs(x / target - 1) <= tol;

describe('lats generator', () => {
  const programs = generatePrograms('lats', { seed: 13, count: 2000, rate: 1 });
  const stats = summarizePrograms(programs);

  it('matches the paper table within 10% (~160 calls, 467 in, 73 out), cap 400', () => {
    expect(within(stats.callsPerProgramMean, 160)).toBe(true);
    expect(stats.callsPerProgramMax).toBeLessThanOrEqual(400);
    expect(within(stats.inputMean, 467)).toBe(true);
    expect(within(stats.outputMean, 73)).toBe(true);
    expect(stats.maxContext).toBeLessThanOrEqual(32768);
  });

  it('varies the calls per program', () => {
    const counts = new Set(programs.map((p) => p.calls.length));
    expect(counts.size).toBeGreaterThan(20);
  });

  it('expands nodes into parallel siblings with value calls, in many threads', () => {
    for (const p of programs.slice(0, 200)) {
      expect(p.kind).toBe('lats');
      const children = new Map<string, number>();
      for (const c of p.calls) {
        const first = c.parents[0];
        if (first !== undefined && c.id.startsWith('n')) children.set(first, (children.get(first) ?? 0) + 1);
      }
      // Every expansion has exactly `branching` = 5 children (no context drops at these sizes).
      expect([...children.values()].every((k) => k === 5)).toBe(true);
      expect(children.size).toBeGreaterThan(0);
      const values = p.calls.filter((c) => c.id.startsWith('v'));
      expect(values.length).toBe([...children.values()].reduce((a, b) => a + b, 0));
      for (const v of values) expect(v.parents).toEqual([`n${v.id.slice(1)}`]);
      const threads = new Set(p.calls.map((c) => c.thread));
      expect(threads.size).toBe(1 + values.length);
      expect(p.calls[0]?.shared).toEqual({ id: 'lats-fewshot', tokens: 500 });
    }
  });

  it('with the iteration barrier, an expansion waits for the previous evaluations', () => {
    const p = programs[0];
    if (!p) throw new Error('no program');
    const second = p.calls.find((c) => c.id === 'n2.0');
    expect(second?.parents.slice(1).sort()).toEqual(p.calls.filter((c) => /^[vr]1\./.test(c.id)).map((c) => c.id).sort());
    const gen = createLats({ iterationBarrier: false });
    const body = gen(createRng(1));
    expect(body.calls.every((c) => c.parents.length <= 1)).toBe(true);
  });

  it('drops calls that would exceed maxContext', () => {
    const gen = createLats({ maxContext: 6000, deepenProbability: 1 });
    const rng = createRng(2);
    const bodies = Array.from({ length: 100 }, () => gen(rng));
    const s = summarizePrograms(bodies.map((b, i) => ({ ...b, id: String(i), arrival: 0 })));
    expect(s.maxContext).toBeLessThanOrEqual(6000);
    expect(s.callsPerProgramMean).toBeLessThan(160);
  });

  it('rejects targets that cannot fit the cap', () => {
    expect(() => createLats({ targetCalls: 500 })).toThrow(ConfigError);
    expect(() => createLats({ branching: 0 })).toThrow(ConfigError);
    expect(() => createLats({ reflectProbability: 2 })).toThrow(ConfigError);
  });
});
