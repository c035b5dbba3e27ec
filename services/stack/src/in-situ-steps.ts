import type { RunningEngine } from '@autellix/engine';
import { LlamaBackend } from '@autellix/engine';
import type { EngineProfile, StepOverhead } from '@autellix/engine-model';
import { fitStepOverhead, stepSeconds } from '@autellix/engine-model';

/** Pure decode steps of one batch size taken during the replay, and the calibrated profile's time for them. */
export interface InSituSteps {
  readonly batch: number;
  readonly samples: number;
  /** Mean context a sequence, tokens. */
  readonly meanContext: number;
  readonly measuredMs: number;
  readonly predictedMs: number;
}

/** The engines' decode gaps by batch size, beside the profile's step time at the same batch and mean context. */
export function inSituSteps(engines: readonly RunningEngine[], profile: EngineProfile): InSituSteps[] {
  const total = new Map<number, { samples: number; totalMs: number; totalContext: number }>();
  for (const e of engines) {
    const b = e.actor.backendOrNull;
    if (!(b instanceof LlamaBackend)) continue;
    for (const [batch, g] of b.decodeGaps()) {
      const t = total.get(batch) ?? { samples: 0, totalMs: 0, totalContext: 0 };
      t.samples += g.samples;
      t.totalMs += g.totalMs;
      t.totalContext += g.totalContext;
      total.set(batch, t);
    }
  }
  return [...total]
    .sort(([a], [b]) => a - b)
    .map(([batch, t]) => {
      const contextTokens = t.totalContext / t.samples;
      const shape = { decodeSeqs: batch, decodeContextTokens: contextTokens, prefillTokens: 0, prefillSeqs: 0, prefillAttentionPairs: 0 };
      return { batch, samples: t.samples, meanContext: contextTokens / batch, measuredMs: t.totalMs / t.samples, predictedMs: stepSeconds(profile, shape) * 1000 };
    });
}

/** Sample-weighted mean of measured over profile step time of in-situ decode steps (NaN without samples). */
export function stepFactor(steps: readonly InSituSteps[]): number {
  return steps.reduce((t, x) => t + x.samples * x.measuredMs, 0) / steps.reduce((t, x) => t + x.samples * x.predictedMs, 0);
}

/** The per-step overhead (`fitStepOverhead`) that explains how much longer in-situ decode steps took than the profile says. */
export function stepOverheadOf(steps: readonly InSituSteps[]): StepOverhead {
  return fitStepOverhead(steps.map((x) => ({ batch: x.batch, samples: x.samples, extraSeconds: (x.measuredMs - x.predictedMs) / 1000 })));
}
