import type { RunningEngine } from '@autellix/engine';
import { LLAMA_BATCH_TOKENS, LlamaBackend } from '@autellix/engine';
import type { EngineProfile, StepShape } from '@autellix/engine-model';
import { stepSeconds } from '@autellix/engine-model';

/** Whole prompt chunks evaluated during a replay beside `decoders` decoding sequences, and the profile's time for them. */
export interface InSituPrompts {
  readonly decoders: number;
  readonly samples: number;
  /** Mean tokens the chunk's own sequence held before it. */
  readonly meanContext: number;
  /** Mean context of each decoding sequence beside it. */
  readonly meanDecodeContext: number;
  readonly measuredMs: number;
  /**
   * The profile's time for the same work as the engine model runs it: decodes first and the
   * chunk in what is left of the `LLAMA_BATCH_TOKENS` budget, then the chunk's rest with the
   * next decodes (two steps once anything decodes beside it).
   */
  readonly predictedMs: number;
}

/** The timed chunks by decoders beside them, and how many chunks went untimed (another prompt shared their batches). */
export interface InSituPromptChunks {
  readonly chunks: InSituPrompts[];
  readonly skipped: number;
}

/**
 * The llama engines' whole prompt chunks by the number of sequences decoding beside them
 * (`LlamaBackend.promptChunks`), with the profile's time for each mean chunk. `chunks` is empty
 * when no engine timed a chunk. For checking a profile calibrated idle against the prompt work
 * of a loaded replay, as the decode gaps check its decode steps.
 */
export function inSituPrompts(engines: readonly RunningEngine[], profile: EngineProfile): InSituPromptChunks {
  let skipped = 0;
  const total = new Map<number, { samples: number; totalMs: number; totalContext: number; totalDecodeContext: number }>();
  for (const e of engines) {
    const b = e.actor.backendOrNull;
    if (!(b instanceof LlamaBackend)) continue;
    skipped += b.promptChunksSkipped;
    for (const [decoders, c] of b.promptChunks()) {
      const t = total.get(decoders) ?? { samples: 0, totalMs: 0, totalContext: 0, totalDecodeContext: 0 };
      t.samples += c.samples;
      t.totalMs += c.totalMs;
      t.totalContext += c.totalContext;
      t.totalDecodeContext += c.totalDecodeContext;
      total.set(decoders, t);
    }
  }
  const chunks = [...total]
    .sort(([a], [b]) => a - b)
    .map(([decoders, t]) => {
      const context = t.totalContext / t.samples;
      const decodeContext = t.totalDecodeContext / t.samples;
      return {
        decoders,
        samples: t.samples,
        meanContext: context,
        meanDecodeContext: decoders === 0 ? 0 : decodeContext / decoders,
        measuredMs: t.totalMs / t.samples,
        predictedMs: 1000 * promptChunkSeconds(profile, decoders, context, decodeContext),
      };
    });
  return { chunks, skipped };
}

/**
 * The profile's seconds for one whole chunk after `context` tokens of its sequence, beside
 * `decoders` decodes holding `decodeContext` tokens in all: decodes first and the chunk in what
 * is left of the budget, then the chunk's rest with the next decodes (one step when nothing
 * decodes beside it).
 */
export function promptChunkSeconds(profile: EngineProfile, decoders: number, context: number, decodeContext: number): number {
  const first = Math.max(0, LLAMA_BATCH_TOKENS - decoders);
  const step = (prefill: number, before: number, decodeTokens: number): StepShape => ({
    decodeSeqs: decoders,
    decodeContextTokens: decodeTokens,
    prefillTokens: prefill,
    prefillSeqs: prefill > 0 ? 1 : 0,
    prefillAttentionPairs: prefill * (before + prefill / 2),
  });
  const rest = LLAMA_BATCH_TOKENS - first;
  return stepSeconds(profile, step(first, context, decodeContext)) + (rest > 0 ? stepSeconds(profile, step(rest, context + first, decodeContext + decoders)) : 0);
}

/**
 * Sample-weighted measured over predicted time of whole prompt chunks, each predicted by
 * `profile` (`promptChunkSeconds`); 1 when there are none.
 */
export function promptComputeFactor(chunks: readonly InSituPrompts[], profile: EngineProfile): number {
  let measured = 0;
  let predicted = 0;
  for (const c of chunks) {
    measured += c.measuredMs * c.samples;
    predicted += 1000 * promptChunkSeconds(profile, c.decoders, c.meanContext, c.meanDecodeContext * c.decoders) * c.samples;
  }
  return measured > 0 && predicted > 0 ? measured / predicted : 1;
}
