import type { BatchItem, EvaluationPriority, Token } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
import { decodesFirstByPriority, evaluationPriorityOf } from '../src/llama/batch-order.ts';

const item = (tokens: number, evaluationPriority: EvaluationPriority): BatchItem => ({
  tokens: Array.from({ length: tokens }, (_, i) => i as Token),
  logits: [],
  evaluationPriority,
});

describe('llama batch order', () => {
  it('maps level 0 to the highest evaluation priority and levels 4 and deeper to the lowest', () => {
    expect([0, 1, 2, 3, 4, 5, 11].map(evaluationPriorityOf)).toEqual([5, 4, 3, 2, 1, 1, 1]);
  });

  it('takes every decode first (better ones ahead), then whole prompts by priority, queue order within a priority', () => {
    const lowPrompt = item(300, 1);
    const decodeA = item(1, 1);
    const highPrompt = item(200, 5);
    const samePriorityLater = item(200, 5);
    const decodeB = item(1, 5);
    const items = [lowPrompt, decodeA, highPrompt, samePriorityLater, decodeB];
    const out = decodesFirstByPriority({ items, size: 512 });
    // By position in `items` (several are deep-equal, so identity is what counts).
    expect(out.map((p) => [items.indexOf(p.item), p.processAmount])).toEqual([
      [4, 1], // decodes first, the better one ahead
      [1, 1],
      [2, 200], // then prompts, best priority first, queue order within it
      [3, 200],
      [0, 110], // the worst prompt gets what is left
    ]);
    expect(out.reduce((t, p) => t + p.processAmount, 0)).toBe(512);
  });

  it('gives the batch to the best prompt alone when it needs all of it, and nothing for no room', () => {
    const big = item(2000, 4);
    const small = item(10, 3);
    const only = decodesFirstByPriority({ items: [small, big], size: 512 });
    expect(only).toHaveLength(1);
    expect(only[0]?.item).toBe(big);
    expect(only[0]?.processAmount).toBe(512);
    expect(decodesFirstByPriority({ items: [small, big], size: 0 })).toEqual([]);
    expect(decodesFirstByPriority({ items: [], size: 512 })).toEqual([]);
  });
});
