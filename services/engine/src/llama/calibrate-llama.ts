import type { EngineOptions, GpuSpec, MeasuredStep, ModelSpec, StepFit, StepShape } from '@autellix/engine-model';
import { DEFAULT_ENGINE_OPTIONS, fitProfileToSteps } from '@autellix/engine-model';
import type { LlamaBackendConfig } from './llama-backend.ts';
import { LLAMA_BATCH_TOKENS } from './llama-backend.ts';
import type { LlamaStepTimings, StepTimingGrid } from './step-timings.ts';
import { DEFAULT_STEP_TIMING_GRID, measureLlamaSteps } from './step-timings.ts';
import { tinyLlamaModelSpec } from './tiny-gguf.ts';

/**
 * One CPU core as the engine model's device, with nominal figures (a Zen core: two 256-bit FMA
 * units at ~3 GHz ≈ 1e11 FLOP/s; ~1e11 B/s from its L2 cache, where a tiny model's weights sit).
 * The fitted fractions say how far below these llama.cpp runs; the host link is replaced by the
 * fitted swap (state file) bandwidth.
 */
export const NOMINAL_CPU_CORE: GpuSpec = {
  name: 'cpu-core (nominal)',
  peakFlops: 1e11,
  hbmBandwidth: 1e11,
  memoryBytes: 0,
  hostLinkBandwidth: 1e9,
};

/** The timings measured on this machine and the profile fitted to them. */
export interface LlamaCalibration {
  readonly timings: LlamaStepTimings;
  readonly fit: StepFit;
}

/** The measured points as step shapes (the simulator's conventions: a prefill step yields the first token). */
export function measuredSteps(t: LlamaStepTimings): MeasuredStep[] {
  const decode = t.decode.map((d) => ({
    label: `decode b=${d.batch} ctx=${d.meanContext}`,
    shapes: [{ decodeSeqs: d.batch, decodeContextTokens: d.batch * d.meanContext, prefillTokens: 0, prefillSeqs: 0, prefillAttentionPairs: 0 }],
    seconds: d.ms / 1000,
  }));
  const prefill = t.prefill.map((p) => ({
    label: `prefill ${p.tokens} tokens`,
    shapes: prefillChunks(p.tokens),
    seconds: p.ms / 1000,
  }));
  return [...decode, ...prefill];
}

/** A lone prompt of `tokens` tokens as llama.cpp evaluates it: chunks of `LLAMA_BATCH_TOKENS`, each attending to those before. */
export function prefillChunks(tokens: number): StepShape[] {
  const shapes: StepShape[] = [];
  for (let done = 0; done < tokens; done += LLAMA_BATCH_TOKENS) {
    const chunk = Math.min(LLAMA_BATCH_TOKENS, tokens - done);
    shapes.push({ decodeSeqs: 0, decodeContextTokens: 0, prefillTokens: chunk, prefillSeqs: 1, prefillAttentionPairs: chunk * (done + chunk / 2) });
  }
  return shapes;
}

/**
 * The grid without the points a context of `sequences` sequences of `contextSize` tokens each
 * cannot run: decode batches over `sequences` are dropped and, when that cuts the grid short,
 * `sequences` itself is measured instead, so the fit still sees the engine's fullest batch.
 */
export function gridWithin(grid: StepTimingGrid, contextSize: number, sequences: number): StepTimingGrid {
  const batches = grid.decodeBatches.filter((b) => b <= sequences);
  if (batches.length < grid.decodeBatches.length && !batches.includes(sequences)) batches.push(sequences);
  return {
    ...grid,
    decodeBatches: batches,
    decodeContexts: grid.decodeContexts.filter((c) => c + grid.decodeSteps + 2 <= contextSize),
    prefillTokens: grid.prefillTokens.filter((n) => n + 1 <= contextSize),
    swapContexts: grid.swapContexts.filter((c) => c <= contextSize),
  };
}

/**
 * Measures a GGUF model's step times on this machine through the `llama` backend and fits an
 * engine-model profile to them (`fitProfileToSteps`), with the KV capacity of the backend's
 * context (`sequences × contextSize` tokens). Grid points the context cannot run are skipped
 * (`gridWithin`).
 * `model` must describe the GGUF file (default: the generated tiny model).
 */
export async function calibrateLlamaProfile(
  config: LlamaBackendConfig,
  grid: StepTimingGrid = DEFAULT_STEP_TIMING_GRID,
  model: ModelSpec = tinyLlamaModelSpec(),
): Promise<LlamaCalibration> {
  const timings = await measureLlamaSteps(config, gridWithin(grid, config.contextSize, config.sequences));
  const fit = fitProfileToSteps({
    name: `${model.name}-cpu-calibrated`,
    description: `${model.name} on ${config.threads} CPU thread(s) of this machine, llama.cpp via node-llama-cpp (fitted to measured steps)`,
    model,
    gpu: NOMINAL_CPU_CORE,
    kvCapacityTokens: config.sequences * config.contextSize,
    blockSize: 16,
    steps: measuredSteps(timings),
    swaps: timings.swap.map((s) => ({ tokens: s.context, outSeconds: s.outMs / 1000, inSeconds: s.inMs / 1000 })),
    sources: ['measured on this machine by measureLlamaSteps (services/engine/src/llama/step-timings.ts)'],
  });
  return { timings, fit };
}

/**
 * The simulator's engine options that behave as a `llama` engine: `sequences` calls a batch,
 * llama.cpp's 512-token batch split across sequences (chunked prefill), no prefix cache (each
 * call gets an emptied sequence), the backend's preemption mode, and no preemption of a call
 * still computing its prompt.
 */
export function llamaEngineOptions(config: LlamaBackendConfig): EngineOptions {
  return {
    ...DEFAULT_ENGINE_OPTIONS,
    maxBatchSeqs: config.sequences,
    maxBatchTokens: LLAMA_BATCH_TOKENS,
    chunkedPrefill: true,
    prefixCache: false,
    preemption: config.preemption,
    // A call yields at its next token, so a prompt in flight is always finished first.
    preemptDuringPrefill: false,
    maxContextTokens: config.contextSize,
  };
}
