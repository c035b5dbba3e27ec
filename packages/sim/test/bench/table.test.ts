import { describe, expect, it } from 'vitest';
import { ProgressBar, renderBar } from '../../src/bench/progress.ts';
import { Align, formatTable, num, summaryTable, sweepTable } from '../../src/bench/table.ts';
import { makeReport } from './fakes.ts';

describe('formatTable', () => {
  it('pads columns to the widest cell and aligns as asked', () => {
    const t = formatTable(['a', 'bb'], [['xyz', '1'], ['q', '22']], [Align.left, Align.right]);
    expect(t).toBe(['a    bb', '---  --', 'xyz   1', 'q    22'].join('\n'));
  });

  it('num keeps 4 significant digits and shows non-finite as -', () => {
    expect(num(0.0123456)).toBe('0.01235');
    expect(num(3)).toBe('3');
    expect(num(Number.NaN)).toBe('-');
    expect(num(12345.6)).toBe('12346');
  });
});

describe('sweep tables', () => {
  it('has one row per (curve, rate) and flags overloaded rows', () => {
    const lines = sweepTable(makeReport()).split('\n');
    expect(lines).toHaveLength(2 + 6);
    expect(lines.filter((l) => l.includes('OVERLOADED'))).toHaveLength(1);
    expect(lines[2]?.startsWith('fcfs')).toBe(true);
  });

  it('summarises maxRateAtSlo with ratios and lower bounds', () => {
    const text = summaryTable(makeReport({ lowerBounds: ['plas'] }));
    expect(text).toContain('1.250x');
    expect(text).toMatch(/plas\s+>= 1\.250\s+1\.250x\s+lower bound/);
  });
});

describe('progress', () => {
  it('renders a bar', () => {
    expect(renderBar({ done: 12, total: 40, label: 'plas@1.2/s' }, 10)).toBe('[###.......] 12/40 plas@1.2/s');
    expect(renderBar({ done: 0, total: 0, label: '' }, 4)).toBe('[....] 0/0 ');
  });

  it('redraws with \\r on a TTY and ends the line on finish', () => {
    const out: string[] = [];
    const bar = new ProgressBar({ isTTY: true, write: (s: string) => out.push(s) }, 4);
    bar.update({ done: 0, total: 2, label: 'long-label' });
    bar.update({ done: 1, total: 2, label: 'x' });
    bar.finish();
    expect(out[0]).toBe('\r[....] 0/2 long-label');
    expect(out[1]).toBe(`\r${'[##..] 1/2 x'.padEnd('[....] 0/2 long-label'.length)}`);
    expect(out[2]).toBe('\n');
  });

  it('writes a line per 10% elsewhere', () => {
    const out: string[] = [];
    const bar = new ProgressBar({ write: (s: string) => out.push(s) });
    for (let i = 0; i <= 100; i++) bar.update({ done: i, total: 100, label: `r${i}` });
    bar.finish();
    expect(out).toHaveLength(11);
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
  });
});
