import { mkdtempSync, rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@autellix/core';
import type { CallAssign, Priority, ProgressItem } from '@autellix/protocol';
import { ErrorCode, ProtocolError } from '@autellix/protocol';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { BackendLoad, BackendSink, EngineBackend } from '../backend.ts';
import type { WallCall } from '../wall-call.ts';
import { DecodeBarrier } from './decode-barrier.ts';
import { byPriority, finishedAccounts, switchAt, wallCallFields, wallProgress } from '../wall-call.ts';
import { decodesFirstByPriority, evaluationPriorityOf } from './batch-order.ts';

/** Settings of the `llama` backend. */
export interface LlamaBackendConfig {
  /** A GGUF model file. */
  readonly modelPath: string;
  /** Calls decoding at once: sequences of one llama.cpp context, batched together each step. */
  readonly sequences: number;
  /**
   * Extra sequences of the context, kept clean so that a freed or yielded place goes to the next
   * call at once: emptying a sequence (and saving a preempted call's state) needs llama.cpp's
   * context lock, which the batch loop holds while other sequences keep decoding. When no spare
   * is clean, the backend holds the token loops for a step so the emptying gets the lock
   * (`DecodeBarrier`); spares make most turnovers skip even that. Each costs the KV memory of one
   * sequence.
   */
  readonly spareSequences: number;
  /** Tokens each sequence holds (prompt plus output); a longer call is refused with `no_engine`. */
  readonly contextSize: number;
  /**
   * CPU threads of llama.cpp. 1 by default: on this 2-core machine the default (all cores)
   * made a 64-wide model take 260 ms a token against 0.4-0.8 ms with one thread (spinning workers).
   */
  readonly threads: number;
  /** How a preempted call gives up its sequence: its KV state saved to a file and restored (`swap`), or dropped and re-evaluated (`recompute`). */
  readonly preemption: 'swap' | 'recompute';
  /** Generate exactly `maxTokens` even past an end-of-generation token (benchmarks replaying traces). */
  readonly ignoreEos: boolean;
}

/**
 * Most tokens llama.cpp evaluates in one step (the context's batch size, node-llama-cpp's default):
 * decodes and prompt chunks of all sequences share it, split across sequences when prompts are long.
 */
export const LLAMA_BATCH_TOKENS = 512;

export const DEFAULT_LLAMA_BACKEND: LlamaBackendConfig = {
  modelPath: '',
  sequences: 4,
  spareSequences: 2,
  contextSize: 2048,
  threads: 1,
  preemption: 'swap',
  ignoreEos: false,
};

/** Returns the config unchanged when valid; throws `ConfigError` naming the first bad field. */
export function validateLlamaBackendConfig(c: LlamaBackendConfig): LlamaBackendConfig {
  if (c.modelPath === '') throw new ConfigError('llama.modelPath is required: a GGUF file');
  for (const [name, v] of [
    ['sequences', c.sequences],
    ['contextSize', c.contextSize],
    ['threads', c.threads],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`llama.${name} = ${v} must be an integer >= 1`);
  }
  if (!Number.isSafeInteger(c.spareSequences) || c.spareSequences < 0) {
    throw new ConfigError(`llama.spareSequences = ${c.spareSequences} must be an integer >= 0`);
  }
  if (c.preemption !== 'swap' && c.preemption !== 'recompute') throw new ConfigError(`llama.preemption = ${String(c.preemption)} must be swap or recompute`);
  return c;
}

/** A model loaded into one context with its sequences; `dispose` frees it all. */
export interface LoadedLlama {
  readonly llama: Llama;
  readonly model: LlamaModel;
  readonly context: LlamaContext;
  readonly sequences: readonly LlamaContextSequence[];
  /** Where swapped sequence states are written (removed by `dispose`). */
  readonly swapDir: string;
  dispose(): Promise<void>;
}

/** Loads the model on the CPU (the prebuilt binary; never compiles) into a context of `sequences + spareSequences` sequences. */
export async function loadLlama(config: LlamaBackendConfig): Promise<LoadedLlama> {
  validateLlamaBackendConfig(config);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: config.modelPath });
  const context = await model.createContext({
    sequences: config.sequences + config.spareSequences,
    contextSize: config.contextSize,
    threads: config.threads,
    batchSize: LLAMA_BATCH_TOKENS,
    // Decodes first, then prompts in priority order (the engine model's chunked prefill).
    batching: { itemPrioritizationStrategy: decodesFirstByPriority },
  });
  const sequences = Array.from({ length: config.sequences + config.spareSequences }, () => context.getSequence());
  const swapDir = mkdtempSync(join(tmpdir(), 'autellix-llama-swap-'));
  return {
    llama,
    model,
    context,
    sequences,
    swapDir,
    dispose: async () => {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
      rmSync(swapDir, { recursive: true, force: true });
    },
  };
}

interface Held extends WallCall {
  readonly prompt: Token[];
  readonly generated: Token[];
  text: string;
  /** The sequence while it runs. */
  sequence: LlamaContextSequence | null;
  /** Asked to give up its sequence at the next token (a better call waits). */
  yielding: boolean;
  /** The saved KV state of a swapped-out call, or null. */
  swapFile: string | null;
  /** True while its state is being saved after it yielded: it cannot resume before that ends. */
  saving: boolean;
  /** Wall ms of its last token while it holds its sequence (NaN before the first, and after giving the sequence up). */
  lastTokenAt: number;
}

/** Decode steps seen under live load at one batch size (see `LlamaBackend.decodeGaps`). */
export interface DecodeGapStats {
  /** Token gaps measured (each sequence of a step gives one). */
  samples: number;
  /** Sum of the gaps, ms. */
  totalMs: number;
  /** Sum over samples of the batch's total context, tokens. */
  totalContext: number;
}

/** Whole prompt chunks evaluated under live load beside one number of decoding sequences (see `LlamaBackend.promptChunks`). */
export interface PromptChunkStats {
  /** Chunks timed (each `LLAMA_BATCH_TOKENS` prompt tokens). */
  samples: number;
  /** Sum of their wall times, from handing the chunk to llama.cpp to its evaluation, ms. */
  totalMs: number;
  /** Sum over chunks of the tokens their sequence held before the chunk. */
  totalContext: number;
  /** Sum over chunks of the decoding sequences' total context when the chunk was handed over. */
  totalDecodeContext: number;
}

/**
 * The `llama` backend: a GGUF model run in-process by llama.cpp (node-llama-cpp) on the CPU.
 * Each running call owns one sequence of a shared context, whose KV cache holds its tokens;
 * sequences that decode at the same time are evaluated in one batch. Calls run in priority
 * order (level, key, seq), at most `sequences` at once; when all places are taken, a waiting
 * call that outranks a running one makes it yield at its next token: its place goes to the
 * better call at once (on a clean spare sequence), its state is saved to a file (`swap`) or
 * dropped (`recompute`) in the background, and it resumes later from the file, or by
 * re-evaluating its prompt and the tokens it had generated. A sequence given back is emptied in
 * the background and joins the clean ones. Prompts are the call's `prompt`, or its messages as
 * `role: content` lines (no chat template). Greedy decoding.
 */
export class LlamaBackend implements EngineBackend {
  readonly name = 'llama';
  readonly maxBatch: number;
  /** Each call gets an emptied sequence: no KV is shared between calls. */
  readonly prefixCache = false;
  private readonly held = new Map<string, Held>();
  /** Clean sequences (emptied), ready for a call. */
  private readonly free: LlamaContextSequence[];
  private closed = false;
  private swaps = 0;
  /** Swap saves that failed (those calls resume by recompute). */
  saveFailures = 0;
  /**
   * Wall ms a place sat free while a call could take it but no clean sequence was ready (every
   * spare still being emptied): capacity lost to turnover. Raise `spareSequences` when it grows.
   */
  cleanSequenceWaitMs = 0;
  /** Wall ms since when a place has been waiting for a clean sequence; NaN when none is. */
  private cleanWaitSince = Number.NaN;
  private readonly gaps = new Map<number, DecodeGapStats>();
  private readonly chunks = new Map<number, PromptChunkStats>();
  private chunksSkipped = 0;
  /** Calls holding a sequence (cancelled ones included until they give it back): what each step batches. */
  private readonly running = new Set<Held>();
  /**
   * Wall ms of the last event after which a token gap is not a pure decode step: a prompt
   * evaluation (a call starting on a sequence, or getting its first token), or token loops held
   * at the barrier.
   */
  private gapBreakAt = Number.NEGATIVE_INFINITY;
  /** Holds token loops so that lock work holding up a place gets the context lock. */
  private readonly barrier: DecodeBarrier;

  constructor(
    private readonly loaded: LoadedLlama,
    private readonly config: LlamaBackendConfig,
    private readonly clock: () => number,
    private readonly sink: BackendSink,
  ) {
    this.free = [...loaded.sequences];
    this.maxBatch = config.sequences;
    this.barrier = new DecodeBarrier(clock);
  }

  admit(call: CallAssign): void {
    const key = `${call.sessionId}/${call.callId}`;
    if (this.held.has(key)) return;
    const prompt = this.promptOf(call);
    if (prompt.length + call.maxTokens > this.config.contextSize) {
      throw new ProtocolError(
        ErrorCode.noEngine,
        `call needs ${prompt.length} prompt + ${call.maxTokens} output tokens, over this engine's context of ${this.config.contextSize}`,
      );
    }
    // Object.assign, not a spread that adds properties (a new hidden class per call on Node 20).
    this.held.set(
      key,
      Object.assign(wallCallFields(call, this.clock()), {
        prompt,
        generated: [],
        text: '',
        sequence: null,
        yielding: false,
        swapFile: null,
        saving: false,
        lastTokenAt: Number.NaN,
      }),
    );
    this.pump();
  }

  /**
   * The call's prompt tokens: its `prompt`, or its messages as `role: content` lines; a call with
   * neither (a replayed trace gives only lengths) gets `promptTokens` filler tokens, so its
   * prefill costs what the trace says.
   */
  private promptOf(call: CallAssign): Token[] {
    const text = call.prompt ?? (call.messages ?? []).map((m) => `${m.role}: ${m.content}`).join('\n');
    if (text.length > 0) return this.loaded.model.tokenize(text);
    const filler = this.loaded.model.tokenize('x');
    const token = filler[filler.length - 1];
    if (token === undefined) throw new ProtocolError(ErrorCode.engineFailed, 'the model cannot tokenize a filler prompt');
    return Array.from({ length: Math.max(1, call.promptTokens) }, () => token);
  }

  setPriority(key: string, priority: Priority): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    h.priority = { level: priority.level, key: priority.key, seq: priority.seq };
    this.pump();
    return true;
  }

  cancel(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    this.held.delete(key);
    // A running call notices at its next token and returns its sequence; a swapped one's file goes now.
    if (h.swapFile !== null) void unlink(h.swapFile).catch(() => {});
    this.pump();
    return true;
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  keys(): string[] {
    return [...this.held.keys()];
  }

  progress(): ProgressItem[] {
    const now = this.clock();
    return [...this.held.values()].map((h) => wallProgress(h, h.sequence !== null, now));
  }

  /** `kvUsed`: tokens held in sequences over their total capacity. */
  load(): BackendLoad {
    let running = 0;
    let tokens = 0;
    for (const h of this.held.values()) {
      if (h.sequence === null) continue;
      running += 1;
      tokens += h.sequence.nextTokenIndex;
    }
    return { running, queued: this.held.size - running, kvUsed: tokens / (this.maxBatch * this.config.contextSize) };
  }

  /**
   * Step times as this engine actually ran them, by batch size: the gap between a sequence's
   * consecutive tokens, kept when every running call was past its prompt and no call started or
   * finished its prompt during the gap (pure decode steps).
   * For checking a calibrated profile against steps taken under the deployment's own load.
   */
  decodeGaps(): ReadonlyMap<number, Readonly<DecodeGapStats>> {
    return this.gaps;
  }

  /**
   * Whole prompt chunks (every chunk of a long input but its last part, which is evaluated with
   * the first token) timed as the engine ran them, keyed by the number of other sequences that
   * were decoding when the chunk was handed over (they share its batches). Only chunks handed
   * over while no other sequence was computing a prompt are kept: prompts share the batch, so a
   * chunk queued beside another waits for it, which is queueing, not step time
   * (`promptChunksSkipped` counts the others). For checking a calibrated profile's prompt steps
   * under the deployment's own load, as `decodeGaps` does for decode steps. Empty when no input
   * was longer than one chunk.
   */
  promptChunks(): ReadonlyMap<number, Readonly<PromptChunkStats>> {
    return this.chunks;
  }

  /** Whole prompt chunks not timed because another sequence was computing a prompt (see `promptChunks`). */
  get promptChunksSkipped(): number {
    return this.chunksSkipped;
  }

  /**
   * The other running sequences: those decoding now (past their first token, not yielding) with
   * their total context, and those still computing a prompt (`prefilling`: no token yet since
   * they last started; `start` sets it before the call joins `running`).
   */
  private besideChunk(h: Held): { decoders: number; context: number; prompts: number } {
    let decoders = 0;
    let context = 0;
    let prompts = 0;
    for (const o of this.running) {
      if (o === h || o.sequence === null || o.yielding) continue;
      if (o.prefilling) {
        prompts += 1;
        continue;
      }
      decoders += 1;
      context += o.sequence.nextTokenIndex;
    }
    return { decoders, context, prompts };
  }

  private recordChunk(beside: { decoders: number; context: number; prompts: number }, before: number, ms: number): void {
    if (beside.prompts > 0) {
      this.chunksSkipped += 1;
      return;
    }
    const c = this.chunks.get(beside.decoders) ?? { samples: 0, totalMs: 0, totalContext: 0, totalDecodeContext: 0 };
    c.samples += 1;
    c.totalMs += ms;
    c.totalContext += before;
    c.totalDecodeContext += beside.context;
    this.chunks.set(beside.decoders, c);
  }

  private recordGap(from: number, to: number): void {
    if (this.gapBreakAt >= from) return;
    const gapMs = to - from;
    let batch = 0;
    let context = 0;
    for (const o of this.running) {
      if (o.sequence === null) continue;
      if (Number.isNaN(o.firstTokenAt) || o.yielding || Number.isNaN(o.lastTokenAt)) return;
      batch += 1;
      context += o.sequence.nextTokenIndex;
    }
    const g = this.gaps.get(batch) ?? { samples: 0, totalMs: 0, totalContext: 0 };
    g.samples += 1;
    g.totalMs += gapMs;
    g.totalContext += context;
    this.gaps.set(batch, g);
  }

  /** Swap files written since start. */
  get swapOuts(): number {
    return this.swaps;
  }

  close(): void {
    this.closed = true;
    this.held.clear();
    this.barrier.release();
  }

  /** Times token loops were held so that lock work holding up a place could run (`DecodeBarrier`). */
  get barrierRaises(): number {
    return this.barrier.raises;
  }

  /** Total wall ms token loops were held at the barrier. */
  get barrierUpMs(): number {
    return this.barrier.upMs;
  }

  /** The part of `barrierUpMs` from each raise to the last token produced while up (the batch in flight and queued prompts draining). */
  get barrierDrainMs(): number {
    return this.barrier.drainMs;
  }

  /**
   * Gives free places (fewer than `maxBatch` calls on sequences, and a clean sequence) to the best
   * waiting calls; asks worse running calls to yield to better waiting ones. A call whose state
   * is still being saved waits for the save.
   */
  private pump(): void {
    if (this.closed) return;
    if (!Number.isNaN(this.cleanWaitSince)) {
      this.cleanSequenceWaitMs += this.clock() - this.cleanWaitSince;
      this.cleanWaitSince = Number.NaN;
    }
    const all = [...this.held.values()];
    const waiting = all.filter((h) => h.sequence === null && !h.saving).sort(byPriority);
    const staying = all.filter((h) => h.sequence !== null && !h.yielding).sort(byPriority);
    let yielding = all.filter((h) => h.yielding).length;
    for (const w of waiting) {
      if (this.running.size < this.maxBatch) {
        const seq = this.free.pop();
        // A place but no clean sequence yet: one is being emptied, and pump runs again then.
        if (seq === undefined) {
          this.cleanWaitSince = this.clock();
          this.barrier.raise();
          break;
        }
        this.start(w, seq);
        continue;
      }
      // Sequences already being given back go to the best waiting calls first.
      if (yielding > 0) {
        yielding -= 1;
        continue;
      }
      const worst = staying[staying.length - 1];
      if (worst === undefined || byPriority(w, worst) >= 0) break;
      staying.pop();
      worst.yielding = true;
      worst.preemptions += 1;
    }
    // A free place that only a call still saving its state could take: let the save through.
    if (this.running.size < this.maxBatch && all.some((h) => h.saving)) this.barrier.raise();
  }

  private start(h: Held, seq: LlamaContextSequence): void {
    this.gapBreakAt = this.clock();
    switchAt(h, this.clock(), true);
    this.sink.phase(h.key, true);
    h.sequence = seq;
    this.running.add(h);
    void this.run(h, seq);
  }

  /**
   * Books the service and frees the call's place at once (the best waiting call takes it on a
   * clean sequence); then saves the call's state to `saveTo` when given (it cannot resume before
   * that ends; a failed save leaves it to resume by recompute), empties the sequence and returns it
   * to the clean ones.
   */
  private async release(h: Held, seq: LlamaContextSequence, saveTo: string | null = null): Promise<void> {
    switchAt(h, this.clock(), false);
    h.sequence = null;
    h.yielding = false;
    h.lastTokenAt = Number.NaN;
    h.saving = saveTo !== null;
    this.running.delete(h);
    // Pending lock work from here on, so that the pump below can raise the barrier for it.
    const emptied = this.locked(async () => {
      if (saveTo !== null) {
        try {
          await seq.saveStateToFile(saveTo);
          // Cancelled meanwhile: nobody will load it.
          if (this.held.get(h.key) === h) h.swapFile = saveTo;
          else void unlink(saveTo).catch(() => {});
        } catch {
          this.saveFailures += 1;
        } finally {
          h.saving = false;
        }
      }
      await seq.clearHistory();
    });
    this.pump();
    try {
      await emptied;
      this.free.push(seq);
    } finally {
      this.pump();
    }
  }

  /** Runs lock work through the barrier; a token gap across its end is not a pure decode step. */
  private async locked<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await this.barrier.locked(op);
    } finally {
      this.gapBreakAt = this.clock();
    }
  }

  /** Runs lock work for a call that holds its place meanwhile, with the barrier up. */
  private lockedNow<T>(op: () => Promise<T>): Promise<T> {
    const done = this.locked(op);
    this.barrier.raise();
    return done;
  }

  private async run(h: Held, seq: LlamaContextSequence): Promise<void> {
    const model = this.loaded.model;
    const live = (): boolean => !this.closed && this.held.get(h.key) === h;
    try {
      let input: Token[];
      if (h.swapFile !== null) {
        // The call holds its place while its state loads: token loops make way for it.
        const file = h.swapFile;
        await this.lockedNow(() => seq.loadStateFromFile(file, { acceptRisk: true }));
        await unlink(h.swapFile).catch(() => {});
        h.swapFile = null;
        // Generation needs at least one token to evaluate: the last one is taken back out of the
        // restored state (whether or not it was evaluated before the save) and fed again.
        const full = h.prompt.length + h.generated.length;
        const have = seq.nextTokenIndex;
        if (have === full) await this.lockedNow(() => seq.eraseContextTokenRanges([{ start: full - 1, end: full }]));
        if (have === full || have === full - 1) {
          input = h.generated.slice(-1);
        } else {
          await this.lockedNow(() => seq.clearHistory());
          input = [...h.prompt, ...h.generated];
        }
      } else {
        input = [...h.prompt, ...h.generated];
      }
      let done = h.generated.length >= h.assign.maxTokens;
      const evaluationPriority = evaluationPriorityOf(h.priority.level);
      // A long input is evaluated a batch at a time, all but its last token, with the barrier
      // checked before each chunk: node-llama-cpp keeps the context lock until everything queued
      // is evaluated, so lock work would otherwise wait for the whole rest of a prompt queued
      // before the barrier went up, while every other sequence stands still. A chunk queued now
      // would be evaluated before the lock work the barrier is up for: it waits like a token.
      let prefilled = 0;
      const prefillEnd = done ? 0 : input.length - 1;
      while (true) {
        const gate = this.barrier.gate;
        if (gate !== null) await gate;
        if (prefillEnd - prefilled <= LLAMA_BATCH_TOKENS || !live() || h.yielding) break;
        const beside = this.besideChunk(h);
        const before = seq.nextTokenIndex;
        const handedAt = this.clock();
        await seq.evaluateWithoutGeneratingNewTokens(input.slice(prefilled, prefilled + LLAMA_BATCH_TOKENS), { evaluationPriority });
        this.recordChunk(beside, before, this.clock() - handedAt);
        prefilled += LLAMA_BATCH_TOKENS;
      }
      if (prefilled > 0) input = input.slice(prefilled);
      if (!done && live() && !h.yielding) {
        // End-of-generation tokens are yielded (not swallowed), so the call decides: stop there,
        // or with `ignoreEos` keep generating past them.
        let stoppedHere = false;
        for await (const token of seq.evaluate(input, { temperature: 0, yieldEogToken: true, evaluationPriority })) {
          if (!live() || h.yielding) {
            stoppedHere = true;
            break;
          }
          h.generated.push(token);
          const piece = model.detokenize([token], false, h.generated.slice(-8, -1));
          h.text += piece;
          const now = this.clock();
          this.barrier.noteToken(now);
          h.prefilling = false;
          if (Number.isNaN(h.firstTokenAt)) h.firstTokenAt = now;
          if (!Number.isNaN(h.lastTokenAt)) this.recordGap(h.lastTokenAt, now);
          else this.gapBreakAt = now;
          h.lastTokenAt = now;
          this.sink.tokens(h.key, piece, 1);
          if (h.generated.length >= h.assign.maxTokens || (!this.config.ignoreEos && model.isEogToken(token))) {
            done = true;
            break;
          }
          // Lock work holds up a place: ask for the next token only after it has run.
          const gate = this.barrier.gate;
          if (gate !== null) {
            await gate;
            this.gapBreakAt = this.clock();
          }
        }
        // The generator ending by itself means the library stopped generating: the call is over.
        if (!stoppedHere) done = true;
      }
      if (!live()) {
        await this.release(h, seq);
        return;
      }
      if (!done) {
        // Yielding to a better call: keep the state for later (swap), or nothing (recompute).
        const file = this.config.preemption === 'swap' && h.generated.length > 0 ? join(this.loaded.swapDir, `${this.swaps++}.state`) : null;
        this.sink.phase(h.key, false);
        await this.release(h, seq, file);
        return;
      }
      this.held.delete(h.key);
      // The result goes out as soon as the place is freed, not after the sequence is emptied
      // (that waits for the context lock: tens of milliseconds while others decode).
      const released = this.release(h, seq);
      this.sink.finished({
        key: h.key,
        text: h.text,
        promptTokens: h.prompt.length,
        completionTokens: h.generated.length,
        cachedTokens: 0,
        ...finishedAccounts(h, this.clock()),
      });
      await released;
    } catch (err) {
      const wasLive = live();
      this.held.delete(h.key);
      await this.release(h, seq).catch(() => {});
      if (wasLive) this.sink.failed(h.key, `llama backend: ${(err as Error).message}`);
    }
  }
}
