import { describe, expect, it } from 'vitest';
import type { BatchCandidate } from '../src/index.ts';
import { rebuildBatch } from '../src/index.ts';

const cand = (key: string, blocksNeeded: number, running = false): BatchCandidate => ({ key, running, blocksNeeded });

describe('rebuildBatch', () => {
  it('gives an empty plan for no candidates', () => {
    expect(rebuildBatch([], { maxSeqs: 4, blocks: 100 })).toEqual({ keep: [], admit: [], preempt: [] });
  });

  it('stops at the first candidate that does not fit: a later small one does not jump it', () => {
    const plan = rebuildBatch([cand('a', 6, true), cand('big', 6), cand('small', 1)], { maxSeqs: 8, blocks: 10 });
    expect(plan).toEqual({ keep: ['a'], admit: [], preempt: [] });
  });

  it('preempts running calls that are not kept, in priority order', () => {
    const plan = rebuildBatch(
      [cand('new', 4), cand('r1', 4, true), cand('big', 5), cand('r2', 1, true), cand('r3', 1, true)],
      { maxSeqs: 8, blocks: 10 },
    );
    expect(plan).toEqual({ keep: ['r1'], admit: ['new'], preempt: ['r2', 'r3'] });
  });

  it('takes at most maxSeqs calls', () => {
    const plan = rebuildBatch([cand('a', 0), cand('b', 0, true), cand('c', 0, true), cand('d', 0)], { maxSeqs: 2, blocks: 100 });
    expect(plan).toEqual({ keep: ['b'], admit: ['a'], preempt: ['c'] });
  });

  it('fills a budget exactly (blocks used == budget fits)', () => {
    const plan = rebuildBatch([cand('a', 4), cand('b', 6)], { maxSeqs: 2, blocks: 10 });
    expect(plan.admit).toEqual(['a', 'b']);
  });

  it('admits nothing with maxSeqs 0 and preempts every running call', () => {
    const plan = rebuildBatch([cand('a', 0, true), cand('b', 0)], { maxSeqs: 0, blocks: 100 });
    expect(plan).toEqual({ keep: [], admit: [], preempt: ['a'] });
  });
});
