/** Shape of a transformer, enough for a roofline. */
export interface ModelSpec {
  readonly name: string;
  /** Total parameters (including embeddings and LM head). */
  readonly params: number;
  readonly layers: number;
  readonly hidden: number;
  /** Attention query heads. */
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** FFN intermediate size. */
  readonly intermediate: number;
  readonly vocab: number;
  /** Bytes per weight and per KV element (2 for bf16/fp16). */
  readonly dtypeBytes: number;
}

/** One accelerator. */
export interface GpuSpec {
  readonly name: string;
  /** Peak dense bf16 FLOP/s. */
  readonly peakFlops: number;
  /** Peak HBM bandwidth, bytes/s. */
  readonly hbmBandwidth: number;
  /** HBM capacity, bytes. */
  readonly memoryBytes: number;
  /** Host link (PCIe) bandwidth per direction, bytes/s, for KV swap. */
  readonly hostLinkBandwidth: number;
}

/**
 * Aggregate shape of one engine step (one forward pass of a continuous batch). Aggregates
 * rather than per-sequence lists, so the simulator's hot loop stays allocation-free.
 */
export interface StepShape {
  /** Sequences generating one token this step. */
  readonly decodeSeqs: number;
  /** Sum over decode sequences of their context length (tokens of KV read). */
  readonly decodeContextTokens: number;
  /** New prompt tokens computed this step, over all prefill chunks. */
  readonly prefillTokens: number;
  /** Sequences with a prefill chunk this step. */
  readonly prefillSeqs: number;
  /**
   * Attention work of the prefill chunks: sum over chunks of chunk * (cachedBefore + chunk / 2),
   * i.e. query-key pairs under a causal mask.
   */
  readonly prefillAttentionPairs: number;
}
