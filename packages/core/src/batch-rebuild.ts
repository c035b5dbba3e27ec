import type { CallKey } from './ids.ts';

/** One call the engine could run in its next batch. */
export interface BatchCandidate {
  readonly key: CallKey;
  /** True when the call is in the current running batch. */
  readonly running: boolean;
  /** KV blocks the call must hold to run in the next round (resident plus growth). */
  readonly blocksNeeded: number;
}

/** The engine's limits for one batch. */
export interface BatchBudget {
  /** Most calls in one batch (vLLM's max_num_seqs). */
  readonly maxSeqs: number;
  /** KV blocks the batch may hold (free plus evictable cache plus blocks of running calls). */
  readonly blocks: number;
}

/** The rebuilt batch as data. */
export interface BatchPlan {
  /** Running calls that stay, in priority order. */
  readonly keep: CallKey[];
  /** Waiting calls that join, in priority order. */
  readonly admit: CallKey[];
  /** Running calls that leave the batch (to be swapped out or recomputed later). */
  readonly preempt: CallKey[];
}

/**
 * Strict-priority batch rebuild (the paper's rule): walk the candidates in priority order and
 * take each while it fits; stop at the first that does not, so no lower-priority call jumps a
 * higher one. Running calls not taken are preempted. `ordered` must already be sorted, best
 * first; the sort (and its tie-break) belongs to the policy. An empty `ordered` gives an empty plan.
 */
export function rebuildBatch(ordered: readonly BatchCandidate[], budget: BatchBudget): BatchPlan {
  const keep: CallKey[] = [];
  const admit: CallKey[] = [];
  const preempt: CallKey[] = [];
  let seqs = 0;
  let blocks = 0;
  let open = true;
  for (const c of ordered) {
    if (open && seqs < budget.maxSeqs && blocks + c.blocksNeeded <= budget.blocks) {
      seqs += 1;
      blocks += c.blocksNeeded;
      (c.running ? keep : admit).push(c.key);
    } else {
      open = false;
      if (c.running) preempt.push(c.key);
    }
  }
  return { keep, admit, preempt };
}
