import { ConfigError } from '@autellix/core';

/** How a call taken out of the batch gives up its KV cache. */
export const PreemptionMode = {
  /** Copy the call's KV to host memory in one transfer and back when it resumes (the paper). */
  swap: 'swap',
  /** Drop the KV and prefill prompt plus generated tokens again on resume (vLLM V1). */
  recompute: 'recompute',
} as const;
export type PreemptionMode = (typeof PreemptionMode)[keyof typeof PreemptionMode];

/** Switches that remove one engine effect, to measure what it contributes. All off by default. */
export interface EngineAblations {
  /** Swaps take no time. */
  readonly zeroSwapCost: boolean;
  /** KV memory never runs out (no preemption for memory, no cache eviction). */
  readonly unboundedKv: boolean;
  /** Every step takes this many seconds whatever the batch (a slot model); null = the roofline. */
  readonly constantStepSeconds: number | null;
}

/** Engine behaviour; the profile gives the hardware. Validated by `validateEngineOptions`. */
export interface EngineOptions {
  /** Most calls in one batch (vLLM max_num_seqs). */
  readonly maxBatchSeqs: number;
  /** Most tokens computed in one step (vLLM max_num_batched_tokens): decode tokens plus prefill chunks. */
  readonly maxBatchTokens: number;
  /** Split long prompts into chunks that share steps with decodes; off = whole prompts in prefill-only steps. */
  readonly chunkedPrefill: boolean;
  /** Keep finished calls' KV in free memory for reuse by calls that extend it (block-granular LRU). */
  readonly prefixCache: boolean;
  readonly preemption: PreemptionMode;
  /**
   * A running call may be preempted while it is still computing its prompt (vLLM: the scheduler
   * can take any running request out at a step). Off for engines that give a call's place up
   * only at a token boundary (llama.cpp in the `llama` backend yields at the call's next token,
   * so a prompt in flight is always finished first): a rebuild then keeps every call still
   * prefilling, in its place, and preempts only among the others.
   */
  readonly preemptDuringPrefill: boolean;
  /** Rebuild the batch in priority order every this many steps; between rebuilds free slots are refilled at once. */
  readonly rebuildEverySteps: number;
  /** Largest prompt plus output one call may have (tokens); longer calls are rejected at admission. */
  readonly maxContextTokens: number;
  /**
   * Simulate a run of steps whose batch cannot change as one event (exact: see
   * `SimEngine.planRun`; runs end at the first completion, a demotion, an unstable rebuild, a
   * due promotion, or an `interrupt`). Off = one event per step.
   */
  readonly macroSteps: boolean;
  readonly ablations: EngineAblations;
}

export const NO_ABLATIONS: EngineAblations = { zeroSwapCost: false, unboundedKv: false, constantStepSeconds: null };

/**
 * vLLM-opt as in the paper (vLLM 0.6.1 with chunked prefill and prefix caching): 256 sequences,
 * vLLM 0.6's default budget of 512 tokens per step with chunked prefill on, swap preemption.
 */
export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  maxBatchSeqs: 256,
  maxBatchTokens: 512,
  chunkedPrefill: true,
  prefixCache: true,
  preemption: PreemptionMode.swap,
  preemptDuringPrefill: true,
  rebuildEverySteps: 1,
  maxContextTokens: 131072,
  macroSteps: true,
  ablations: NO_ABLATIONS,
};

/** The paper's plain vLLM 0.6.1 baseline engine: no prefix cache, no chunked prefill. */
export const PLAIN_VLLM_ENGINE_OPTIONS: EngineOptions = {
  ...DEFAULT_ENGINE_OPTIONS,
  chunkedPrefill: false,
  prefixCache: false,
  maxBatchTokens: 8192,
};

/** Throws `ConfigError` naming the first bad field; returns the options when valid. */
export function validateEngineOptions(o: EngineOptions): EngineOptions {
  const positiveInt = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`engine.${name} = ${v} must be an integer >= 1`);
  };
  positiveInt('maxBatchSeqs', o.maxBatchSeqs);
  positiveInt('maxBatchTokens', o.maxBatchTokens);
  positiveInt('rebuildEverySteps', o.rebuildEverySteps);
  positiveInt('maxContextTokens', o.maxContextTokens);
  if (!Object.values(PreemptionMode).includes(o.preemption)) {
    throw new ConfigError(`engine.preemption = ${String(o.preemption)} must be one of ${Object.values(PreemptionMode).join(', ')}`);
  }
  if (typeof o.preemptDuringPrefill !== 'boolean') {
    throw new ConfigError(`engine.preemptDuringPrefill = ${String(o.preemptDuringPrefill)} must be a boolean`);
  }
  const c = o.ablations.constantStepSeconds;
  if (c !== null && !(c > 0 && Number.isFinite(c))) {
    throw new ConfigError(`engine.ablations.constantStepSeconds = ${c} must be a positive number or null`);
  }
  return o;
}
