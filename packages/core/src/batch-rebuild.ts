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
 * The strict-priority rule one candidate at a time, for callers that walk their candidates
 * without building a list (the simulated engine's hot path). Offer candidates best first: each
 * is taken while it fits; the first that does not closes the batch, and every later offer is
 * refused, so no lower-priority call jumps a higher one. Allocation-free; `reset` reuses it.
 */
export class StrictBatchFill {
  private maxSeqs = 0;
  private maxBlocks = 0;
  private seqs = 0;
  private blocks = 0;
  private open = false;

  /** Starts a new batch within `budget`. */
  reset(budget: BatchBudget): void {
    this.maxSeqs = budget.maxSeqs;
    this.maxBlocks = budget.blocks;
    this.seqs = 0;
    this.blocks = 0;
    this.open = true;
  }

  /** False once a candidate was refused (or before the first `reset`). */
  get isOpen(): boolean {
    return this.open;
  }

  /** Offers the next candidate, needing `blocksNeeded` KV blocks; true when it is in the batch. */
  offer(blocksNeeded: number): boolean {
    if (this.open && this.seqs < this.maxSeqs && this.blocks + blocksNeeded <= this.maxBlocks) {
      this.seqs += 1;
      this.blocks += blocksNeeded;
      return true;
    }
    this.open = false;
    return false;
  }
}

/**
 * Strict-priority batch rebuild (the paper's rule, `StrictBatchFill`) over a candidate list:
 * running calls not taken are preempted. `ordered` must already be sorted, best first; the sort
 * (and its tie-break) belongs to the policy. An empty `ordered` gives an empty plan.
 */
export function rebuildBatch(ordered: readonly BatchCandidate[], budget: BatchBudget): BatchPlan {
  const keep: CallKey[] = [];
  const admit: CallKey[] = [];
  const preempt: CallKey[] = [];
  const fill = new StrictBatchFill();
  fill.reset(budget);
  for (const c of ordered) {
    if (fill.offer(c.blocksNeeded)) (c.running ? keep : admit).push(c.key);
    else if (c.running) preempt.push(c.key);
  }
  return { keep, admit, preempt };
}
