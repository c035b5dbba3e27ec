import { join } from 'node:path';
import type { CallAssign } from '@autellix/protocol';
import type { BackendSink } from '../backend.ts';
import type { LlamaBackendConfig } from './llama-backend.ts';
import { LlamaBackend, loadLlama } from './llama-backend.ts';

/** What to measure; every size in tokens. */
export interface StepTimingGrid {
  /** Sequences decoding together. Each must be <= the config's `sequences`. */
  readonly decodeBatches: readonly number[];
  /** Context (prompt) length each decoding sequence starts from. */
  readonly decodeContexts: readonly number[];
  /** Decode steps timed per (batch, context) point; the context grows by this much during it. */
  readonly decodeSteps: number;
  /** Prompt lengths of single-sequence prefills (in chunks of `LLAMA_BATCH_TOKENS`, one step each). */
  readonly prefillTokens: readonly number[];
  /** Context lengths whose sequence state is saved to a file and loaded back (swap). */
  readonly swapContexts: readonly number[];
  /** Repetitions of each point; the median is kept. */
  readonly repeats: number;
}

export const DEFAULT_STEP_TIMING_GRID: StepTimingGrid = {
  decodeBatches: [1, 2, 4, 8],
  decodeContexts: [32, 256, 1024, 4096],
  decodeSteps: 32,
  prefillTokens: [16, 64, 128, 256, 512, 2048, 4096],
  swapContexts: [64, 512, 2048, 4096],
  repeats: 3,
};

/** A decode step: `batch` sequences at a mean context of `meanContext` tokens each. */
export interface DecodeTiming {
  readonly batch: number;
  readonly meanContext: number;
  /** Median wall ms between consecutive tokens while every sequence of the batch decodes. */
  readonly ms: number;
}

/** A single-sequence prefill of `tokens` prompt tokens (one step a `LLAMA_BATCH_TOKENS` chunk), through its first token. */
export interface PrefillTiming {
  readonly tokens: number;
  /** Wall ms from handing the call to the backend to its first token (median of the repeats). */
  readonly ms: number;
}

/** Saving one sequence's state of `context` tokens to a file, and loading it back. */
export interface SwapTiming {
  readonly context: number;
  readonly outMs: number;
  readonly inMs: number;
}

/** Everything `measureLlamaSteps` measured. */
export interface LlamaStepTimings {
  readonly decode: readonly DecodeTiming[];
  readonly prefill: readonly PrefillTiming[];
  readonly swap: readonly SwapTiming[];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The median of a point's samples; throws when it has none (a grid too small to time, e.g. `decodeSteps` < 2). */
function measured(samples: readonly number[], point: string): number {
  if (samples.length === 0) throw new RangeError(`no timing for ${point}: the grid leaves it no step to time`);
  return median(samples);
}

/** A call with only a prompt length: the backend feeds it that many filler tokens. */
function lengthOnlyCall(callId: string, promptTokens: number, maxTokens: number): CallAssign {
  return {
    type: 'call.assign',
    v: 1,
    engineId: 'calibration',
    attempt: 0,
    sessionId: 'calibration',
    callId,
    threadId: 'main',
    parents: [],
    promptTokens,
    maxTokens,
    replyTo: '_INBOX.calibration',
    stream: true,
    level: 0,
    key: 0,
    seq: 0,
  };
}

/**
 * Measures step times of a GGUF model on this machine through the `llama` backend itself (its
 * token loop, sampling and detokenizing included, as a live engine pays them): decode steps of
 * several batch sizes and contexts, single-sequence prefills, and state save/load (swap).
 * The backend runs with `ignoreEos`, so every call generates exactly what it asks.
 * Rejects when a grid point does not fit the config (batch over `sequences`, context over `contextSize`).
 */
export async function measureLlamaSteps(config: LlamaBackendConfig, grid: StepTimingGrid): Promise<LlamaStepTimings> {
  for (const b of grid.decodeBatches) {
    if (b > config.sequences) throw new RangeError(`decode batch ${b} is over the ${config.sequences} sequences of the context`);
  }
  const longest = Math.max(...grid.decodeContexts.map((c) => c + grid.decodeSteps + 2), ...grid.prefillTokens.map((n) => n + 1), ...grid.swapContexts);
  if (longest > config.contextSize) throw new RangeError(`grid needs ${longest} tokens a sequence, over the context of ${config.contextSize}`);

  const loaded = await loadLlama({ ...config, ignoreEos: true });
  try {
    const stamps = new Map<string, number[]>();
    const done = new Map<string, () => void>();
    const failures: string[] = [];
    const sink: BackendSink = {
      tokens: (key) => {
        const list = stamps.get(key);
        if (list !== undefined) list.push(performance.now());
      },
      finished: (c) => done.get(c.key)?.(),
      phase: () => {},
      failed: (key, message) => {
        failures.push(`${key}: ${message}`);
        done.get(key)?.();
      },
    };
    const backend = new LlamaBackend(loaded, { ...config, ignoreEos: true }, () => performance.now(), sink);
    let next = 0;
    /** Runs calls together; resolves with each call's admit time and token times (ms). */
    const runTogether = async (calls: readonly { prompt: number; output: number }[]): Promise<{ admitted: number; tokens: number[] }[]> => {
      const ids = calls.map(() => `c${next++}`);
      const keys = ids.map((id) => `calibration/${id}`);
      const waits = keys.map((k) => new Promise<void>((resolve) => done.set(k, resolve)));
      for (const k of keys) stamps.set(k, []);
      const admitted = performance.now();
      for (const [i, c] of calls.entries()) backend.admit(lengthOnlyCall(ids[i] as string, c.prompt, c.output));
      await Promise.all(waits);
      if (failures.length > 0) throw new Error(`calibration call failed: ${failures.join('; ')}`);
      return keys.map((k) => {
        const tokens = stamps.get(k) ?? [];
        stamps.delete(k);
        done.delete(k);
        return { admitted, tokens };
      });
    };

    // Warm-up: first evaluations pay one-off allocation.
    await runTogether([{ prompt: 64, output: 16 }]);

    const decode: DecodeTiming[] = [];
    for (const context of grid.decodeContexts) {
      for (const batch of grid.decodeBatches) {
        const gaps: number[] = [];
        for (let r = 0; r < grid.repeats; r++) {
          const out = await runTogether(Array.from({ length: batch }, () => ({ prompt: context, output: grid.decodeSteps + 1 })));
          // Steps where every sequence decodes: after the last first token, up to the first last token.
          const from = Math.max(...out.map((o) => o.tokens[0] ?? Number.POSITIVE_INFINITY));
          const to = Math.min(...out.map((o) => o.tokens[o.tokens.length - 1] ?? Number.NEGATIVE_INFINITY));
          for (const o of out) {
            for (let i = 1; i < o.tokens.length; i++) {
              const a = o.tokens[i - 1] as number;
              const b = o.tokens[i] as number;
              if (a >= from && b <= to) gaps.push(b - a);
            }
          }
        }
        decode.push({ batch, meanContext: context + 1 + grid.decodeSteps / 2, ms: measured(gaps, `decode b=${batch} ctx=${context}`) });
      }
    }

    const prefill: PrefillTiming[] = [];
    for (const tokens of grid.prefillTokens) {
      const times: number[] = [];
      for (let r = 0; r < grid.repeats; r++) {
        const [out] = await runTogether([{ prompt: tokens, output: 1 }]);
        if (out !== undefined && out.tokens[0] !== undefined) times.push(out.tokens[0] - out.admitted);
      }
      prefill.push({ tokens, ms: measured(times, `prefill ${tokens}`) });
    }
    backend.close();

    const swap: SwapTiming[] = [];
    const seq = loaded.sequences[0];
    if (seq === undefined) throw new Error('the context has no sequence');
    const filler = loaded.model.tokenize('x');
    const token = filler[filler.length - 1];
    if (token === undefined) throw new Error('the model cannot tokenize a filler prompt');
    for (const context of grid.swapContexts) {
      const outs: number[] = [];
      const ins: number[] = [];
      for (let r = 0; r < grid.repeats; r++) {
        await seq.clearHistory();
        await seq.evaluateWithoutGeneratingNewTokens(Array.from({ length: context }, () => token));
        const file = join(loaded.swapDir, `calibration-${context}-${r}.state`);
        const t0 = performance.now();
        await seq.saveStateToFile(file);
        const t1 = performance.now();
        await seq.clearHistory();
        const t2 = performance.now();
        await seq.loadStateFromFile(file, { acceptRisk: true });
        const t3 = performance.now();
        outs.push(t1 - t0);
        ins.push(t3 - t2);
      }
      swap.push({ context, outMs: median(outs), inMs: median(ins) });
    }
    await seq.clearHistory();
    return { decode, prefill, swap };
  } finally {
    await loaded.dispose();
  }
}
