import type { BatchItem, EvaluationPriority, PrioritizedBatchItem } from 'node-llama-cpp';

/**
 * The evaluation priority node-llama-cpp gets for a call at scheduling level `level` (0 is the
 * best): 5 for level 0 down to 1 for level 4 and below. llama.cpp's batch knows five priorities,
 * so levels 4 and deeper share the lowest one (their prompts go first come, first served).
 */
export function evaluationPriorityOf(level: number): EvaluationPriority {
  return (5 - Math.min(4, Math.max(0, Math.floor(level)))) as EvaluationPriority;
}

/**
 * Fills one llama.cpp batch of `size` tokens the way the engine model's chunked prefill does
 * (and vLLM's): every pending decode (an item of one token: a running call's next token) first,
 * the better ones ahead; then prompt tokens by evaluation priority, highest first, in queue order
 * within a priority, each prompt taking as much of what is left as it needs. So a better call's
 * prompt finishes before a worse one's starts, instead of node-llama-cpp's default of splitting
 * the batch evenly over every pending prompt.
 *
 * Contract: returns each item at most once, the original object in `item`, with
 * `processAmount` ≥ 1 and the amounts summing to at most `size`; empty input or `size` ≤ 0 gives
 * an empty list. Ties keep the order of `items` (node-llama-cpp's queue order).
 */
export function decodesFirstByPriority({ items, size }: { items: readonly BatchItem[]; size: number }): PrioritizedBatchItem[] {
  const isDecode = (item: BatchItem): number => (item.tokens.length === 1 ? 0 : 1);
  const order = items.map((item, index) => ({ item, index }));
  order.sort((a, b) => isDecode(a.item) - isDecode(b.item) || b.item.evaluationPriority - a.item.evaluationPriority || a.index - b.index);
  const out: PrioritizedBatchItem[] = [];
  let left = size;
  for (const { item } of order) {
    if (left <= 0) break;
    const processAmount = Math.min(item.tokens.length, left);
    if (processAmount <= 0) continue;
    out.push({ item, processAmount });
    left -= processAmount;
  }
  return out;
}
