import type { GpuSpec, ModelSpec } from './types.ts';

/**
 * Fitted constants of the kernel-time roofline (see `kernelSeconds` in step-time.ts and
 * docs/engine-model.md). Fractions are of the GPU's peak; times are seconds.
 */
export interface KernelConstants {
  /** Achieved fraction of peak HBM bandwidth when streaming weights (decoder layers, LM head). */
  readonly weightBandwidthFraction: number;
  /**
   * Achieved fraction of peak FLOP/s of the linear layers, their elementwise companions (norms,
   * RoPE, activation, residual adds) included.
   */
  readonly linearMfu: number;
  /** Achieved fraction of peak HBM bandwidth when decode attention reads the KV cache. */
  readonly kvBandwidthFraction: number;
  /** Fixed cost of the decode-attention kernel per decoder layer, seconds, when decodeSeqs > 0. */
  readonly decodeAttentionLayerSeconds: number;
  /** Achieved fraction of peak FLOP/s of prefill (causal) attention on its query-key pairs. */
  readonly attentionFlopsFraction: number;
  /** Fixed cost of the prefill-attention kernel per decoder layer, seconds, when prefillSeqs > 0. */
  readonly prefillAttentionLayerSeconds: number;
  /**
   * Per-token cost of prefill attention per decoder layer, seconds (Q/K/V/O traffic and the
   * causal-diagonal tiles, i.e. the part linear in the chunk length).
   */
  readonly prefillAttentionTokenSeconds: number;
}

/**
 * Tensor-parallel all-reduce (2 per decoder layer, message = tokens × hidden × dtypeBytes):
 * time = latencySeconds + bytes / bandwidthBytesPerSecond. Ignored when tp = 1.
 */
export interface AllReduceConstants {
  readonly latencySeconds: number;
  readonly bandwidthBytesPerSecond: number;
}

/**
 * Engine CPU work per step (scheduling, input preparation, sampling, output processing) that is
 * not hidden behind the GPU: baseSeconds + perSeqSeconds × (decodeSeqs + prefillSeqs).
 */
export interface CpuOverhead {
  readonly baseSeconds: number;
  readonly perSeqSeconds: number;
}

/**
 * KV swap over the host link. The swap is the contiguous-buffer kind (one transfer per swap call,
 * as in the Autellix paper), so time = perTransferSeconds + bytes / bandwidthBytesPerSecond.
 * With tp > 1 each GPU moves its own 1/tp shard over its own link, in parallel.
 */
export interface SwapConstants {
  readonly perTransferSeconds: number;
  readonly bandwidthBytesPerSecond: number;
  /**
   * Seconds the whole engine stalls for each swap-in on top of its transfer (≥ 0; 0 for the GPU
   * profiles, whose restore is the transfer alone). An engine that must pause every running
   * sequence to restore one has a cost here: the `llama` engine's decode barrier (a restore needs
   * the context lock, so all token loops drain first).
   */
  readonly restoreStallSeconds: number;
}

/** Inputs of vLLM's KV-pool sizing (per GPU), kept on the profile to document its capacity. */
export interface MemoryAccounting {
  /** vLLM `gpu_memory_utilization` (default 0.9). */
  readonly gpuMemoryUtilization: number;
  /** Peak activations + CUDA graphs + non-torch allocations (NCCL buffers), bytes per GPU. */
  readonly activationReserveBytes: number;
}

/**
 * A calibrated engine: one model served by `tp` identical GPUs with tensor parallelism.
 * Every time-valued field is in seconds, every size in bytes or tokens as named.
 */
export interface EngineProfile {
  readonly name: string;
  readonly description: string;
  readonly model: ModelSpec;
  readonly gpu: GpuSpec;
  /** Tensor-parallel degree (GPUs per engine). */
  readonly tp: number;
  /** Tokens per KV block (vLLM default 16). */
  readonly blockSize: number;
  /** KV-cache capacity of the engine, tokens (a multiple of blockSize). */
  readonly kvCapacityTokens: number;
  readonly memory: MemoryAccounting;
  readonly kernel: KernelConstants;
  readonly allReduce: AllReduceConstants;
  readonly cpuOverhead: CpuOverhead;
  readonly swap: SwapConstants;
  /** Where the constants come from (documents, data files), human-readable. */
  readonly sources: readonly string[];
}

/**
 * KV-cache bytes per token over the whole model (all layers, K and V, all GPUs):
 * layers × kvHeads × headDim × 2 × dtypeBytes. Llama-3.1-8B: 131072 (128 KiB); 70B: 327680.
 */
export function kvBytesPerToken(model: ModelSpec): number {
  return model.layers * model.kvHeads * model.headDim * 2 * model.dtypeBytes;
}

/** Inputs of `vllmKvCapacityTokens`. */
export interface KvCapacityInput {
  readonly model: ModelSpec;
  readonly gpu: GpuSpec;
  readonly tp: number;
  readonly blockSize: number;
  readonly memory: MemoryAccounting;
}

/**
 * KV capacity in tokens following vLLM's accounting (V0 and V1): per GPU,
 * pool = memoryBytes × gpuMemoryUtilization − params × dtypeBytes / tp − activationReserveBytes;
 * blocks = floor(pool / (blockSize × kvBytesPerToken / tp)); result = blocks × blockSize.
 * Returns 0 when the weights do not fit.
 */
export function vllmKvCapacityTokens(input: KvCapacityInput): number {
  const { model, gpu, tp, blockSize, memory } = input;
  const weightsPerGpu = (model.params * model.dtypeBytes) / tp;
  const pool = gpu.memoryBytes * memory.gpuMemoryUtilization - weightsPerGpu - memory.activationReserveBytes;
  if (pool <= 0) return 0;
  const blockBytesPerGpu = (blockSize * kvBytesPerToken(model)) / tp;
  return Math.floor(pool / blockBytesPerGpu) * blockSize;
}

/** KV-cache capacity of the engine in blocks of `profile.blockSize` tokens. */
export function kvCapacityBlocks(profile: EngineProfile): number {
  return Math.floor(profile.kvCapacityTokens / profile.blockSize);
}

/**
 * Seconds to move the KV cache of `tokens` tokens in ONE direction (GPU→host or host→GPU) as one
 * contiguous transfer per GPU: perTransferSeconds + (tokens × kvBytesPerToken / tp) / bandwidth.
 * 0 for tokens ≤ 0. Swaps are blocking (concurrent DMA is not free, timings doc §7).
 *
 * Recompute-based preemption is NOT costed here: re-admitting a recomputed call is a prefill of
 * its prompt plus the tokens it had generated, which the engine charges through `stepSeconds`
 * (prefillTokens / prefillAttentionPairs of that re-prefill).
 */
export function swapSeconds(profile: EngineProfile, tokens: number): number {
  if (tokens <= 0) return 0;
  const bytesPerGpu = (tokens * kvBytesPerToken(profile.model)) / profile.tp;
  return profile.swap.perTransferSeconds + bytesPerGpu / profile.swap.bandwidthBytesPerSecond;
}

/**
 * Seconds a swap-in of `tokens` tokens blocks the engine: its transfer (`swapSeconds`) plus the
 * profile's `restoreStallSeconds`. 0 for tokens ≤ 0 (nothing to restore).
 */
export function swapInSeconds(profile: EngineProfile, tokens: number): number {
  if (tokens <= 0) return 0;
  return swapSeconds(profile, tokens) + profile.swap.restoreStallSeconds;
}
