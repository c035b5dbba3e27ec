import { ConfigError } from '@autellix/core';
import { type CountSpec, countSampler, exponential, type LognormalSpec, tokenSampler, uniformInt } from './distributions.ts';
import type { BodyGenerator } from './generators.ts';
import { type ChainModel, chainBody, checkContextBudget, checkNonNegative, checkShared } from './sharegpt.ts';
import type { SharedPrefix } from './types.ts';

/**
 * BFCL v3: multi-turn tool use. One thread: a chain (each call extends the previous call's
 * context with the tool result / next user turn as its `input`), with a tool delay before every
 * non-root call. Prefill-heavy. Paper table: 10.75 / 70 calls per program, ~735 new prompt
 * tokens and ~34 output tokens per call. The root carries a large shared prompt holding the
 * function definitions.
 */
export interface BfclOptions {
  /** Calls per program, before context truncation. */
  readonly calls: CountSpec;
  /** New prompt tokens per call (tool output, next user turn), integers. */
  readonly input: LognormalSpec;
  /** Output tokens per call (a function call or a short answer), integers. */
  readonly output: LognormalSpec;
  /** Tool-schema system prompt of the root; null for none. */
  readonly shared: SharedPrefix | null;
  /**
   * Number of distinct tool-schema prompts (integer >= 1). With 1 every program shares `shared.id`;
   * with n > 1 each program draws one of `${shared.id}-0..n-1` uniformly (same token count).
   */
  readonly sharedVariants: number;
  /** Mean tool execution time before each non-root call, seconds (exponential; 0 = none). */
  readonly toolDelayMean: number;
  /** Largest context (prompt + output) any call may reach, tokens; the chain stops before a call that would exceed it. */
  readonly maxContext: number;
}

export const BFCL_DEFAULTS: BfclOptions = {
  calls: { mean: 10.75, max: 70, sigma: 0.8 },
  input: { mean: 735, sigma: 0.7, min: 1, max: 8192 },
  output: { mean: 34, sigma: 0.8, min: 1, max: 1024 },
  shared: { id: 'bfcl-tools', tokens: 1500 },
  sharedVariants: 1,
  toolDelayMean: 0.5,
  maxContext: 32768,
};

/** Validates options (once) and returns a BFCL body generator. Throws `ConfigError`. */
export function createBfcl(options: Partial<BfclOptions> = {}): BodyGenerator {
  const o: BfclOptions = { ...BFCL_DEFAULTS, ...options };
  checkShared(o.shared, 'bfcl');
  if (!Number.isInteger(o.sharedVariants) || o.sharedVariants < 1) {
    throw new ConfigError(`bfcl.sharedVariants must be an integer >= 1, got ${o.sharedVariants}`);
  }
  checkNonNegative(o.toolDelayMean, 'bfcl.toolDelayMean');
  checkContextBudget('bfcl', o.maxContext, o.shared?.tokens ?? 0, o.input, o.output);
  const base = o.shared;
  const variants: readonly (SharedPrefix | null)[] =
    base === null ? [null] : o.sharedVariants === 1 ? [base] : Array.from({ length: o.sharedVariants }, (_, j) => ({ id: `${base.id}-${j}`, tokens: base.tokens }));
  const model: ChainModel = {
    kind: 'bfcl',
    shared: (rng) => variants[uniformInt(rng, 0, variants.length - 1)] ?? null,
    count: countSampler(o.calls, 'bfcl.calls'),
    input: tokenSampler(o.input, 'bfcl.input'),
    output: tokenSampler(o.output, 'bfcl.output'),
    delay: (rng) => exponential(rng, o.toolDelayMean),
    maxContext: o.maxContext,
  };
  return (rng) => chainBody(rng, model);
}
