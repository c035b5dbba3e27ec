import { ConfigError, type Rng } from '@autellix/core';
import { type CountSpec, countSampler, exponential, type LognormalSpec, tokenSampler } from './distributions.ts';
import type { BodyGenerator, ProgramBody } from './generators.ts';
import type { CallSpec, SharedPrefix } from './types.ts';

/**
 * ShareGPT: chatbot conversations. One thread: a chain where call i+1's parent is call i (each
 * user turn extends the whole conversation so far). Decode-heavy. Paper table: 6.66 / 80 calls
 * per program, ~256 new prompt tokens and ~277 output tokens per call.
 *
 * Also home of the chain model that BFCL reuses.
 */
export interface ShareGptOptions {
  /** Calls (turns) per program, before context truncation. */
  readonly calls: CountSpec;
  /** New prompt tokens per call (the user turn), integers. */
  readonly input: LognormalSpec;
  /** Output tokens per call, integers. */
  readonly output: LognormalSpec;
  /** System prompt of the root call, shared by every ShareGPT program; null for none. */
  readonly shared: SharedPrefix | null;
  /** Mean user think time before each non-root call, seconds (exponential; 0 = none). */
  readonly thinkTimeMean: number;
  /** Largest context (prompt + output) any call may reach, tokens; the chain stops before a call that would exceed it. */
  readonly maxContext: number;
}

export const SHAREGPT_DEFAULTS: ShareGptOptions = {
  calls: { mean: 6.66, max: 80, sigma: 1.0 },
  input: { mean: 256, sigma: 1.0, min: 1, max: 4096 },
  output: { mean: 277, sigma: 0.8, min: 1, max: 2048 },
  shared: { id: 'sharegpt-system', tokens: 100 },
  thinkTimeMean: 0,
  maxContext: 32768,
};

/** What a chain program is drawn from. */
export interface ChainModel {
  readonly kind: string;
  /** System prompt of the root (drawn first). */
  readonly shared: (rng: Rng) => SharedPrefix | null;
  /** Number of calls before truncation (drawn second). */
  readonly count: (rng: Rng) => number;
  /** Then per call, in order: input tokens, output tokens, delay (seconds; non-root calls only). */
  readonly input: (rng: Rng) => number;
  readonly output: (rng: Rng) => number;
  readonly delay: (rng: Rng) => number;
  /** Tokens; the chain ends before the first call whose context would exceed it. */
  readonly maxContext: number;
}

/**
 * Draws a chain: calls `c0..c{n-1}`, each the parent of the next, all in thread `main`. The root
 * carries the shared prefix and delay 0. Context of call i = shared + sum over j <= i of
 * (input_j + output_j); the chain is truncated before the first call exceeding `maxContext`
 * (the root always fits when options were validated with `checkContextBudget`).
 */
export function chainBody(rng: Rng, model: ChainModel): ProgramBody {
  const shared = model.shared(rng);
  const n = model.count(rng);
  const calls: CallSpec[] = [];
  let context = shared?.tokens ?? 0;
  for (let i = 0; i < n; i++) {
    const input = model.input(rng);
    const output = model.output(rng);
    const delay = i === 0 ? 0 : model.delay(rng);
    context += input + output;
    if (context > model.maxContext && i > 0) break;
    const id = `c${i}`;
    const parents = i === 0 ? [] : [`c${i - 1}`];
    calls.push(
      i === 0 && shared
        ? { id, parents, input, output, delay, shared, thread: 'main' }
        : { id, parents, input, output, delay, thread: 'main' },
    );
  }
  return { kind: model.kind, calls };
}

/** Throws `ConfigError` unless a shared prefix is well-formed. */
export function checkShared(shared: SharedPrefix | null, what: string): void {
  if (shared === null) return;
  if (typeof shared.id !== 'string' || shared.id === '') throw new ConfigError(`${what}.shared.id must be a non-empty string`);
  if (!Number.isInteger(shared.tokens) || shared.tokens < 1) {
    throw new ConfigError(`${what}.shared.tokens must be an integer >= 1, got ${shared.tokens}`);
  }
}

/** Throws `ConfigError` unless a root call (shared + largest input + largest output) fits in `maxContext`. */
export function checkContextBudget(what: string, maxContext: number, sharedTokens: number, input: LognormalSpec, output: LognormalSpec): void {
  if (!Number.isInteger(maxContext) || maxContext < 1) throw new ConfigError(`${what}.maxContext must be an integer >= 1, got ${maxContext}`);
  const root = sharedTokens + input.max + output.max;
  if (root > maxContext) {
    throw new ConfigError(`${what}.maxContext = ${maxContext} is below shared + input.max + output.max = ${root}`);
  }
}

/** Throws `ConfigError` unless `x` is a finite number >= 0. */
export function checkNonNegative(x: number, what: string): void {
  if (!(Number.isFinite(x) && x >= 0)) throw new ConfigError(`${what} must be a finite number >= 0, got ${x}`);
}

/** Validates options (once) and returns a ShareGPT body generator. Throws `ConfigError`. */
export function createShareGpt(options: Partial<ShareGptOptions> = {}): BodyGenerator {
  const o: ShareGptOptions = { ...SHAREGPT_DEFAULTS, ...options };
  checkShared(o.shared, 'sharegpt');
  checkNonNegative(o.thinkTimeMean, 'sharegpt.thinkTimeMean');
  checkContextBudget('sharegpt', o.maxContext, o.shared?.tokens ?? 0, o.input, o.output);
  const model: ChainModel = {
    kind: 'sharegpt',
    shared: () => o.shared,
    count: countSampler(o.calls, 'sharegpt.calls'),
    input: tokenSampler(o.input, 'sharegpt.input'),
    output: tokenSampler(o.output, 'sharegpt.output'),
    delay: (rng) => exponential(rng, o.thinkTimeMean),
    maxContext: o.maxContext,
  };
  return (rng) => chainBody(rng, model);
}
