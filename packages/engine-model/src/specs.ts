import type { GpuSpec, ModelSpec } from './types.ts';

/** One gibibyte, bytes. vLLM's startup log prints memory in these units (labelled "GB"). */
export const GIB = 1024 ** 3;

/**
 * Llama-3.1-8B (same shapes as Llama-3-8B), bf16. Architecture from the model's `config.json`:
 * 32 layers, hidden 4096, 32 query heads / 8 KV heads of dim 128, SwiGLU intermediate 14336,
 * vocab 128256, untied embedding and LM head; 8.03e9 parameters.
 */
export const llama31_8b: ModelSpec = {
  name: 'Llama-3.1-8B',
  params: 8.03e9,
  layers: 32,
  hidden: 4096,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  intermediate: 14336,
  vocab: 128256,
  dtypeBytes: 2,
};

/**
 * Llama-3.1-70B (same shapes as Llama-3-70B and, per layer, Llama-2-70B), bf16: 80 layers,
 * hidden 8192, 64 query heads / 8 KV heads of dim 128, intermediate 28672, vocab 128256,
 * untied embedding and LM head; 70.6e9 parameters.
 */
export const llama31_70b: ModelSpec = {
  name: 'Llama-3.1-70B',
  params: 70.6e9,
  layers: 80,
  hidden: 8192,
  heads: 64,
  kvHeads: 8,
  headDim: 128,
  intermediate: 28672,
  vocab: 128256,
  dtypeBytes: 2,
};

/**
 * Memory CUDA reports for an "80 GB" A100/H100 (`torch.cuda.mem_get_info` total ≈ 79.2 GiB after
 * driver/ECC reservations). vLLM's `gpu_memory_utilization` applies to this figure (timings doc §4).
 */
const EIGHTY_GB_VISIBLE_BYTES = 79.2 * GIB;

/**
 * NVIDIA A100-80GB SXM4: 312 TFLOP/s dense bf16, 2.039 TB/s HBM2e, PCIe 4.0 x16 host link
 * (≈25 GB/s per direction achieved by pinned-memory copies).
 */
export const a100Sxm80gb: GpuSpec = {
  name: 'A100-80GB-SXM',
  peakFlops: 312e12,
  hbmBandwidth: 2.039e12,
  memoryBytes: EIGHTY_GB_VISIBLE_BYTES,
  hostLinkBandwidth: 25e9,
};

/**
 * NVIDIA H100-80GB SXM5: 989 TFLOP/s dense bf16, 3.35 TB/s HBM3, PCIe 5.0 x16 host link
 * (≈50 GB/s per direction achieved).
 */
export const h100Sxm80gb: GpuSpec = {
  name: 'H100-80GB-SXM',
  peakFlops: 989e12,
  hbmBandwidth: 3.35e12,
  memoryBytes: EIGHTY_GB_VISIBLE_BYTES,
  hostLinkBandwidth: 50e9,
};

/**
 * Parameters of all decoder layers (Q, K, V, O projections and the three SwiGLU matrices; norms
 * are negligible and omitted): the weights every forward pass reads once, whatever the batch.
 * Llama-3.1-8B: 6.98e9.
 */
export function decoderParams(model: ModelSpec): number {
  const q = model.heads * model.headDim;
  const kv = model.kvHeads * model.headDim;
  const attention = model.hidden * (q + 2 * kv) + q * model.hidden;
  const mlp = 3 * model.hidden * model.intermediate;
  return model.layers * (attention + mlp);
}

/** Parameters of the LM head (vocab × hidden; untied in Llama 3). Llama-3.1-8B: 5.25e8. */
export function lmHeadParams(model: ModelSpec): number {
  return model.vocab * model.hidden;
}
