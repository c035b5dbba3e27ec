import { describe, expect, it } from 'vitest';
import { RunTable } from '../src/run-table.ts';

describe('RunTable', () => {
  it('holds running totals step by step, entry 0 being 0', () => {
    const t = new RunTable(8);
    t.push(0.5, 0.25, 100, 2);
    t.push(0.75, 0.25, 50, 3);
    expect(t.length).toBe(2);
    expect(Array.from(t.seconds.subarray(0, 3))).toEqual([0, 0.5, 1.25]);
    expect(Array.from(t.service.subarray(0, 3))).toEqual([0, 0.25, 0.5]);
    expect(Array.from(t.prefill.subarray(0, 3))).toEqual([0, 100, 150]);
    expect(Array.from(t.busyCalls.subarray(0, 3))).toEqual([0, 2, 5]);
    t.clear();
    t.push(1, 1, 0, 1);
    expect(t.seconds[1]).toBe(1);
  });

  it('finds the first step ending at or after a time, or the last step', () => {
    const t = new RunTable(8);
    for (let i = 0; i < 5; i++) t.push(1, 1, 0, 1); // steps end at 11, 12, 13, 14, 15
    expect(t.stepEndingBy(10, 10.5)).toBe(1);
    expect(t.stepEndingBy(10, 11)).toBe(1);
    expect(t.stepEndingBy(10, 11.01)).toBe(2);
    expect(t.stepEndingBy(10, 14.5)).toBe(5);
    expect(t.stepEndingBy(10, 99)).toBe(5);
  });
});
