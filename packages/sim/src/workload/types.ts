/** A system prompt shared by many programs (same tokens, so the prefix cache can share it). */
export interface SharedPrefix {
  readonly id: string;
  readonly tokens: number;
}

/**
 * One LLM call of a program.
 *
 * Context rule: a call's prompt is its first parent's whole context (that parent's prompt plus
 * its output) followed by `input` new tokens; a root call's prompt is `shared.tokens` (if any)
 * followed by `input`. Other parents' outputs are taken to be inside `input`.
 */
export interface CallSpec {
  /** Unique within the program. */
  readonly id: string;
  /** Calls that must complete before this one is issued; [] for a root. Earlier in `calls`. */
  readonly parents: readonly string[];
  /** New prompt tokens of this call (excluding the parent context it extends). >= 1. */
  readonly input: number;
  /** Tokens the call generates. >= 1. */
  readonly output: number;
  /** Seconds of tool/interrupt time after the last parent completes (after program arrival for a root). >= 0. */
  readonly delay: number;
  /** System prompt of a root call; ignored on non-roots (they inherit it through the parent). */
  readonly shared?: SharedPrefix;
  /** Thread label (defaults to the call id of the thread's first call). */
  readonly thread?: string;
}

/** One program: a DAG of calls, listed in a topological order. */
export interface ProgramSpec {
  readonly id: string;
  /** Arrival time, seconds from the start of the run. */
  readonly arrival: number;
  /** Workload kind (sharegpt, bfcl, lats, or a trace's own label). */
  readonly kind: string;
  readonly calls: readonly CallSpec[];
}
