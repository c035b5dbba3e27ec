import type { LlamaCalibration } from '@autellix/engine';
import type { EngineProfile, StepOverhead } from '@autellix/engine-model';
import { addStepOverhead, scaleComputeTime, withRestoreStall } from '@autellix/engine-model';
import type { ProgramSpec } from '@autellix/sim';
import { generatePrograms } from '@autellix/sim';
import type { LlamaBenchOptions } from './bench-llama.ts';
import { promptComputeFactor } from './in-situ-prompts.ts';
import type { InSituSteps } from './in-situ-steps.ts';
import { stepFactor, stepOverheadOf } from './in-situ-steps.ts';
import type { LiveRun } from './llama-live-run.ts';
import { scaleTrace } from './scale-trace.ts';

/** Decode steps measured under the deployment's load, and the idle profile given their extra time. */
export interface LoadCalibration {
  /** Seed of the trace replayed to measure them (not the one predicted). */
  readonly seed: number;
  /** Sample-weighted mean of measured over profile step time (a diagnostic: the profile is not scaled by it). */
  readonly factor: number;
  /** The extra time a step took under load, fitted to the measured steps (`fitStepOverhead`). */
  readonly overhead: StepOverhead;
  readonly samples: number;
  readonly steps: readonly InSituSteps[];
  /**
   * Measured over predicted time of the replay's whole prompt chunks (timed only with no other
   * prompt beside them), predicted by the idle profile with `overhead` added
   * (`promptComputeFactor`); 1 when none was timed. Measured apart from decode steps because it
   * behaves apart: Mixed's replays ran their chunks 1.4x slower, BFCL's lighter ones not at all.
   */
  readonly promptFactor: number;
  /** Whole prompt chunks behind `promptFactor`. */
  readonly promptChunks: number;
  /** Mean wall ms token loops were held at the decode barrier, each time it went up (0 when it never did). */
  readonly barrierMs: number;
  /**
   * The idle profile with its compute terms scaled by `promptFactor` (`scaleComputeTime`: prompt
   * steps slower, decode steps nearly unchanged), `overhead` added to every step
   * (`addStepOverhead`) and one barrier (`barrierMs`) stalling the engine at every swap-in
   * (`withRestoreStall`): a restored call holds its place while its state loads, so its load
   * raises the barrier at once. Decode steps get a fixed time more, not a factor: under load they
   * wait about the same time more whatever the batch (1-3 ms at every batch size), and scaling
   * every step by the decode steps' ratio over-predicted prompt-heavy traces by 30-60 %; prompt
   * work gets its own measured factor (docs/benchmarks.md).
   */
  readonly profile: EngineProfile;
}

/**
 * Replays another trace of the workload (seed + 1000, never the one predicted) under fcfs through
 * `replayFcfs`, and measures how much slower the engine's pure decode steps ran than the idle
 * profile says, and how long the decode barrier stayed up each time.
 */
export async function calibrateUnderLoad(
  o: Pick<LlamaBenchOptions, 'seed' | 'workload' | 'programs' | 'rate' | 'tokenScale' | 'log'>,
  calibration: LlamaCalibration,
  replayFcfs: (trace: readonly ProgramSpec[]) => Promise<LiveRun>,
): Promise<LoadCalibration> {
  const seed = o.seed + 1000;
  const trace = scaleTrace(generatePrograms(o.workload, { seed, count: o.programs, rate: o.rate }), o.tokenScale);
  const run = await replayFcfs(trace);
  const steps = run.inSitu ?? [];
  const samples = steps.reduce((t, x) => t + x.samples, 0);
  const factor = stepFactor(steps);
  const overhead = stepOverheadOf(steps);
  // Priced once per swap-in: a restore waits with its place held, so it raises the barrier at
  // once; a save is left to ride on a barrier the empties raise anyway (pricing both, one
  // barrier each, over-charged preemption: docs/benchmarks.md).
  const held = run.occupancy;
  const barrierMs = held !== null && held.barrierRaises > 0 ? (1000 * held.barrierSeconds) / held.barrierRaises : 0;
  const prompts = run.inSituPrompts?.chunks ?? [];
  const promptFactor = promptComputeFactor(prompts, addStepOverhead(calibration.fit.profile, overhead));
  const profile = withRestoreStall(addStepOverhead(scaleComputeTime(calibration.fit.profile, promptFactor), overhead), barrierMs / 1000);
  const promptChunks = prompts.reduce((t, x) => t + x.samples, 0);
  o.log(
    `  under load (fcfs, seed ${seed}): decode steps ${factor.toFixed(3)}× the idle profile over ${samples} samples, ` +
      `${(overhead.baseSeconds * 1000).toFixed(2)} ms + ${(overhead.perSeqSeconds * 1000).toFixed(2)} ms a sequence more a step; ` +
      `prompt chunks ${promptFactor.toFixed(3)}× that over ${promptChunks}; decode barrier ${barrierMs.toFixed(1)} ms a time`,
  );
  return { seed, factor, overhead, samples, steps, promptFactor, promptChunks, barrierMs, profile };
}
