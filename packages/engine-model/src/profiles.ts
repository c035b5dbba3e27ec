import { UnknownNameError } from '@autellix/core';
import type {
  AllReduceConstants,
  CpuOverhead,
  EngineProfile,
  KernelConstants,
  MemoryAccounting,
} from './profile.ts';
import { vllmKvCapacityTokens } from './profile.ts';
import { a100Sxm80gb, GIB, h100Sxm80gb, llama31_8b, llama31_70b } from './specs.ts';
import type { GpuSpec, ModelSpec } from './types.ts';

/** Registered engine-profile names. */
export const ProfileName = {
  llama31_8b_a100: 'llama3.1-8b-a100',
  llama31_8b_h100: 'llama3.1-8b-h100',
  llama31_70b_4xa100: 'llama3.1-70b-4xa100',
  llama31_70b_4xh100: 'llama3.1-70b-4xh100',
} as const;
export type ProfileName = (typeof ProfileName)[keyof typeof ProfileName];

const BLOCK_SIZE = 16;

const TIMINGS_DOC = 'shared/reference/engine-timings.md (Vidur profiling data, see docs/engine-model.md)';
const TIMINGS_CSV = 'shared/reference/vidur-derived-step-times.csv';

/*
 * Kernel constants: each term of `kernelSeconds` fitted by least squares on log error to its own
 * component column of vidur-derived-step-times.csv (per-layer ms), for that model/GPU/TP:
 *   weightBandwidthFraction, linearMfu  <- nonattn_ms_per_layer vs tokens (√(mem² + flop²));
 *   kvBandwidthFraction, decodeAttentionLayerSeconds <- attn_ms_per_layer of the decode rows;
 *   attentionFlopsFraction, prefillAttention{Layer,Token}Seconds <- attn_ms_per_layer, prefill rows.
 * The LM head reuses the linear constants (not fitted). Step totals are then checked against the
 * step_ms column by `calibrationRows` (docs/engine-model.md).
 */

/** vLLM V1-like CPU work per step, timings doc §5 (≈0.5–1 ms/step with async scheduling). */
const CPU_TP1: CpuOverhead = { baseSeconds: 0.5e-3, perSeqSeconds: 3e-6 };
/** TP>1 adds the broadcast of the scheduler output to the workers. */
const CPU_TP4: CpuOverhead = { baseSeconds: 0.8e-3, perSeqSeconds: 3e-6 };

/** Unused at tp = 1. */
const NO_ALL_REDUCE: AllReduceConstants = { latencySeconds: 0, bandwidthBytesPerSecond: Number.POSITIVE_INFINITY };
/**
 * Fitted (least squares, relative error) to Vidur network/a100_dgx all_reduce, TP4, + 0.02 ms NCCL
 * launch as Vidur adds; the 8-token outlier excluded (timings doc §3). Max error ≈ 16 %.
 */
const ALL_REDUCE_A100_TP4: AllReduceConstants = { latencySeconds: 43e-6, bandwidthBytesPerSecond: 104e9 };
/** Same fit on Vidur network/h100_dgx all_reduce, TP4. Max error ≈ 18 %. */
const ALL_REDUCE_H100_TP4: AllReduceConstants = { latencySeconds: 55e-6, bandwidthBytesPerSecond: 262e9 };

/**
 * vLLM defaults (gpu_memory_utilization 0.9). Activation reserve (peak activations at
 * max_num_batched_tokens + CUDA graphs + non-torch) chosen inside the timings doc's §4 ranges:
 * 1.5–4 GiB at TP1, 2–3 GiB at TP4 (upper end: NCCL buffers).
 */
const MEMORY_TP1: MemoryAccounting = { gpuMemoryUtilization: 0.9, activationReserveBytes: 2.5 * GIB };
const MEMORY_TP4: MemoryAccounting = { gpuMemoryUtilization: 0.9, activationReserveBytes: 3 * GIB };

/** Contiguous-buffer swap: one DMA per call per GPU, ~10 µs setup + host-link rate (timings doc §7). */
const SWAP_PER_TRANSFER_SECONDS = 10e-6;

interface ProfileInput {
  readonly name: ProfileName;
  readonly description: string;
  readonly model: ModelSpec;
  readonly gpu: GpuSpec;
  readonly tp: number;
  readonly memory: MemoryAccounting;
  readonly kernel: KernelConstants;
  readonly allReduce: AllReduceConstants;
  readonly cpuOverhead: CpuOverhead;
  readonly sources: readonly string[];
}

function makeProfile(p: ProfileInput): EngineProfile {
  return {
    ...p,
    blockSize: BLOCK_SIZE,
    kvCapacityTokens: vllmKvCapacityTokens({
      model: p.model,
      gpu: p.gpu,
      tp: p.tp,
      blockSize: BLOCK_SIZE,
      memory: p.memory,
    }),
    swap: { perTransferSeconds: SWAP_PER_TRANSFER_SECONDS, bandwidthBytesPerSecond: p.gpu.hostLinkBandwidth, restoreStallSeconds: 0 },
  };
}

/** The only place that lists the profiles. */
const PROFILES: Readonly<Record<ProfileName, EngineProfile>> = {
  [ProfileName.llama31_8b_a100]: makeProfile({
    name: ProfileName.llama31_8b_a100,
    description: 'Llama-3.1-8B bf16 on 1 × A100-80GB SXM (vLLM-like, FlashInfer decode attention)',
    model: llama31_8b,
    gpu: a100Sxm80gb,
    tp: 1,
    memory: MEMORY_TP1,
    kernel: {
      weightBandwidthFraction: 0.677,
      linearMfu: 0.662,
      kvBandwidthFraction: 0.832,
      decodeAttentionLayerSeconds: 21e-6,
      attentionFlopsFraction: 0.603,
      prefillAttentionLayerSeconds: 6.93e-6,
      prefillAttentionTokenSeconds: 5.75e-8,
    },
    allReduce: NO_ALL_REDUCE,
    cpuOverhead: CPU_TP1,
    sources: [
      `${TIMINGS_DOC} §1 (measured: Vidur A100 Meta-Llama-3-8B mlp.csv + FlashInfer attention.csv medians)`,
      `${TIMINGS_CSV} rows Llama-3-8B/A100-80GB/1 (component fit)`,
      'weights 14.99 GiB: vLLM issue #10517 startup log (timings doc §4)',
    ],
  }),
  [ProfileName.llama31_8b_h100]: makeProfile({
    name: ProfileName.llama31_8b_h100,
    description: 'Llama-3.1-8B bf16 on 1 × H100-80GB SXM (ESTIMATE: scaled from H100 Llama-2-7B and A100 attention)',
    model: llama31_8b,
    gpu: h100Sxm80gb,
    tp: 1,
    memory: MEMORY_TP1,
    kernel: {
      weightBandwidthFraction: 0.652,
      linearMfu: 0.653,
      kvBandwidthFraction: 0.832,
      decodeAttentionLayerSeconds: 12.8e-6,
      attentionFlopsFraction: 0.379,
      prefillAttentionLayerSeconds: 3.47e-6,
      prefillAttentionTokenSeconds: 2.87e-8,
    },
    allReduce: NO_ALL_REDUCE,
    cpuOverhead: CPU_TP1,
    sources: [
      `${TIMINGS_DOC} §2 (estimate: Vidur H100 Llama-2-7b mlp.csv × A100 L3-8B/L2-7B ratio; attention = A100 × 0.61 decode, × 0.5 prefill)`,
      `${TIMINGS_CSV} rows Llama-3-8B/H100-80GB-SXM/1 (component fit)`,
    ],
  }),
  [ProfileName.llama31_70b_4xa100]: makeProfile({
    name: ProfileName.llama31_70b_4xa100,
    description: 'Llama-3.1-70B bf16 on 4 × A100-80GB SXM, TP4 over NVLink (DGX)',
    model: llama31_70b,
    gpu: a100Sxm80gb,
    tp: 4,
    memory: MEMORY_TP4,
    kernel: {
      weightBandwidthFraction: 0.663,
      linearMfu: 0.652,
      kvBandwidthFraction: 0.744,
      decodeAttentionLayerSeconds: 10.3e-6,
      attentionFlopsFraction: 0.203,
      prefillAttentionLayerSeconds: 7.49e-6,
      prefillAttentionTokenSeconds: 2.61e-8,
    },
    allReduce: ALL_REDUCE_A100_TP4,
    cpuOverhead: CPU_TP4,
    sources: [
      `${TIMINGS_DOC} §3 (derived: Vidur A100 Meta-Llama-3-70B mlp.csv TP4 + a100_dgx all_reduce + 70B-shape FlashAttention TP2 × 0.5)`,
      `${TIMINGS_CSV} rows Llama-3-70B/A100-80GB (DGX NVLink)/4 (component fit)`,
    ],
  }),
  [ProfileName.llama31_70b_4xh100]: makeProfile({
    name: ProfileName.llama31_70b_4xh100,
    description: 'Llama-3.1-70B bf16 on 4 × H100-80GB SXM, TP4 over NVLink (DGX; attention ESTIMATED)',
    model: llama31_70b,
    gpu: h100Sxm80gb,
    tp: 4,
    memory: MEMORY_TP4,
    kernel: {
      weightBandwidthFraction: 0.694,
      linearMfu: 0.63,
      kvBandwidthFraction: 0.744,
      decodeAttentionLayerSeconds: 6.24e-6,
      attentionFlopsFraction: 0.128,
      prefillAttentionLayerSeconds: 3.74e-6,
      prefillAttentionTokenSeconds: 1.31e-8,
    },
    allReduce: ALL_REDUCE_H100_TP4,
    cpuOverhead: CPU_TP4,
    sources: [
      `${TIMINGS_DOC} §3 (Vidur H100 Llama-2-70b mlp.csv TP4 + h100_dgx all_reduce; attention = A100 TP2 × 0.5 × 0.61, estimated)`,
      `${TIMINGS_CSV} rows Llama-3-70B/H100-80GB (DGX NVLink)/4 (component fit)`,
    ],
  }),
};

/** Every registered profile name, in registry order. */
export const profileNames: readonly ProfileName[] = Object.keys(PROFILES) as ProfileName[];

/** Looks a profile up by name; throws `UnknownNameError` listing the known names. */
export function getProfile(name: string): EngineProfile {
  const profile = (PROFILES as Record<string, EngineProfile | undefined>)[name];
  if (!profile) throw new UnknownNameError('engine profile', name, profileNames);
  return profile;
}
