import { ConfigError, UnknownNameError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import {
  arrivalsAt,
  generatePrograms,
  getWorkload,
  programId,
  workloadNames,
} from '../../src/workload/generators.ts';
import type { ProgramSpec } from '../../src/workload/types.ts';

/** Problems with a program's structure: unique call ids, parents name earlier calls, field ranges. */
function structureProblems(p: ProgramSpec): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  if (p.calls.length === 0) problems.push(`${p.id}: no calls`);
  if (p.calls[0]?.parents.length !== 0) problems.push(`${p.id}: first call is not a root`);
  for (const c of p.calls) {
    const at = `${p.id}/${c.id}`;
    if (seen.has(c.id)) problems.push(`${at}: duplicate id`);
    for (const parent of c.parents) if (!seen.has(parent)) problems.push(`${at}: parent ${parent} not earlier`);
    if (new Set(c.parents).size !== c.parents.length) problems.push(`${at}: repeated parent`);
    if (!(Number.isInteger(c.input) && c.input >= 1)) problems.push(`${at}: input ${c.input}`);
    if (!(Number.isInteger(c.output) && c.output >= 1)) problems.push(`${at}: output ${c.output}`);
    if (!(Number.isFinite(c.delay) && c.delay >= 0)) problems.push(`${at}: delay ${c.delay}`);
    seen.add(c.id);
  }
  return problems;
}

describe('workload registry', () => {
  it('lists the four workloads and rejects unknown names', () => {
    expect(workloadNames).toEqual(['sharegpt', 'bfcl', 'lats', 'mixed']);
    for (const name of workloadNames) expect(getWorkload(name).name).toBe(name);
    expect(() => getWorkload('nope')).toThrow(UnknownNameError);
    expect(() => generatePrograms('nope', { seed: 1, count: 1, rate: 1 })).toThrow(UnknownNameError);
  });

  it.each(workloadNames)('%s: topological order, unique ids, valid fields, ids and sorted arrivals', (name) => {
    const programs = generatePrograms(name, { seed: 5, count: 300, rate: 2 });
    expect(programs.map((p) => p.id)).toEqual(programs.map((_, i) => programId(name, i)));
    expect(programs[42]?.id).toBe(`${name}-000042`);
    expect(programs.flatMap(structureProblems)).toEqual([]);
    for (let i = 1; i < programs.length; i++) {
      expect((programs[i]?.arrival ?? 0) >= (programs[i - 1]?.arrival ?? 0)).toBe(true);
    }
  });

  it.each(workloadNames)('%s: same seed gives deep-equal programs, another seed differs', (name) => {
    const a = generatePrograms(name, { seed: 7, count: 50, rate: 1 });
    const b = generatePrograms(name, { seed: 7, count: 50, rate: 1 });
    const c = generatePrograms(name, { seed: 8, count: 50, rate: 1 });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(c.map((p) => p.calls)).not.toEqual(a.map((p) => p.calls));
  });

  it.each(workloadNames)('%s: common random numbers across rates and counts', (name) => {
    const slow = generatePrograms(name, { seed: 3, count: 100, rate: 0.5 });
    const fast = generatePrograms(name, { seed: 3, count: 100, rate: 4 });
    const few = generatePrograms(name, { seed: 3, count: 10, rate: 4 });
    expect(fast.map((p) => ({ ...p, arrival: 0 }))).toEqual(slow.map((p) => ({ ...p, arrival: 0 })));
    for (const [i, p] of fast.entries()) expect(p.arrival * 8).toBeCloseTo(slow[i]?.arrival ?? Number.NaN, 9);
    expect(few).toEqual(fast.slice(0, 10));
  });

  it('arrivals are a Poisson process of the given rate, scaled across rates', () => {
    const a = arrivalsAt(1, 20_000, 5);
    const gaps = a.map((t, i) => t - (a[i - 1] ?? 0));
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    expect(Math.abs(mean / 0.2 - 1)).toBeLessThan(0.03);
    const cv2 = gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length / mean ** 2;
    expect(Math.abs(cv2 - 1)).toBeLessThan(0.05); // exponential gaps: squared CV 1
    expect(arrivalsAt(1, 5, 1).map((t) => t / 10)).toEqual(arrivalsAt(1, 5, 10));
    expect(arrivalsAt(1, 3, Infinity)).toEqual([0, 0, 0]);
    expect(() => arrivalsAt(1, 3, 0)).toThrow(ConfigError);
    expect(() => arrivalsAt(1, -1, 1)).toThrow(ConfigError);
  });
});
