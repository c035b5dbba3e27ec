import type { EngineProfile } from './profile.ts';
import { kvBytesPerToken } from './profile.ts';
import { decoderParams, lmHeadParams } from './specs.ts';
import type { StepShape } from './types.ts';

/**
 * GPU kernel time of one engine step, seconds (no CPU overhead). 0 for an empty step.
 * With T = decodeSeqs + prefillTokens, L = layers, and per-GPU quantities (÷ tp):
 *
 *   linear      = √(mem² + flop²),  mem = decoderBytes / (hbm · weightBw),
 *                                   flop = 2 · decoderParams · T / (peak · linearMfu)
 *   lm head     = √(mem² + flop²) over vocab · hidden, on decodeSeqs + prefillSeqs tokens
 *   decode attn = [decodeSeqs > 0] · L · decodeAttnLayer
 *               + decodeContextTokens · kvBytesPerToken / (hbm · kvBw)
 *   prefill attn= [prefillSeqs > 0] · L · prefillAttnLayer + L · prefillTokens · prefillAttnToken
 *               + 4 · L · heads · headDim · prefillAttentionPairs / (peak · attnFlops)
 *                 (QKᵀ and PV, 2 FLOPs per multiply-add, over causal query-key pairs)
 *   all-reduce  = [tp > 1] · 2 · L · (latency + T · hidden · dtypeBytes / arBw)
 *
 * Non-decreasing in every field of the shape. Allocation-free: plain arithmetic only.
 */
export function kernelSeconds(profile: EngineProfile, shape: StepShape): number {
  const tokens = shape.decodeSeqs + shape.prefillTokens;
  if (tokens <= 0) return 0;
  const { model, gpu, tp, kernel } = profile;
  const bw = gpu.hbmBandwidth;
  const peak = gpu.peakFlops;
  const layers = model.layers;

  const decParams = decoderParams(model) / tp;
  const linMem = (decParams * model.dtypeBytes) / (bw * kernel.weightBandwidthFraction);
  const linFlop = (2 * decParams * tokens) / (peak * kernel.linearMfu);
  let t = Math.sqrt(linMem * linMem + linFlop * linFlop);

  const headTokens = shape.decodeSeqs + shape.prefillSeqs;
  if (headTokens > 0) {
    const headParams = lmHeadParams(model) / tp;
    const headMem = (headParams * model.dtypeBytes) / (bw * kernel.weightBandwidthFraction);
    const headFlop = (2 * headParams * headTokens) / (peak * kernel.linearMfu);
    t += Math.sqrt(headMem * headMem + headFlop * headFlop);
  }

  if (shape.decodeSeqs > 0) {
    t +=
      layers * kernel.decodeAttentionLayerSeconds +
      (shape.decodeContextTokens * kvBytesPerToken(model)) / tp / (bw * kernel.kvBandwidthFraction);
  }

  if (shape.prefillSeqs > 0) {
    const flops = 4 * layers * model.heads * model.headDim * shape.prefillAttentionPairs;
    t +=
      layers * (kernel.prefillAttentionLayerSeconds + shape.prefillTokens * kernel.prefillAttentionTokenSeconds) +
      flops / tp / (peak * kernel.attentionFlopsFraction);
  }

  if (tp > 1) {
    const bytes = tokens * model.hidden * model.dtypeBytes;
    t += 2 * layers * (profile.allReduce.latencySeconds + bytes / profile.allReduce.bandwidthBytesPerSecond);
  }
  return t;
}

/**
 * CPU-side engine overhead of one step, seconds: baseSeconds + perSeqSeconds × sequences
 * (decodeSeqs + prefillSeqs). 0 for an empty step (no decode sequence and no prefill token).
 */
export function cpuOverheadSeconds(profile: EngineProfile, shape: StepShape): number {
  if (shape.decodeSeqs + shape.prefillTokens <= 0) return 0;
  return profile.cpuOverhead.baseSeconds + profile.cpuOverhead.perSeqSeconds * (shape.decodeSeqs + shape.prefillSeqs);
}

/**
 * Wall time of one engine step, seconds: `kernelSeconds` + `cpuOverheadSeconds` (the CPU work is
 * modelled as not overlapped with the GPU). Allocation-free; non-decreasing in every shape field.
 */
export function stepSeconds(profile: EngineProfile, shape: StepShape): number {
  return kernelSeconds(profile, shape) + cpuOverheadSeconds(profile, shape);
}
