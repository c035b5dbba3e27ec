import { ConfigError, forkRng, type Rng, UnknownNameError } from '@autellix/core';
import { createBfcl, type BfclOptions } from './bfcl.ts';
import { exponential } from './distributions.ts';
import { createLats, type LatsOptions } from './lats.ts';
import { createMixed } from './mixed.ts';
import { createShareGpt, type ShareGptOptions } from './sharegpt.ts';
import type { ProgramSpec } from './types.ts';

/** A program without its identity and arrival: what a body generator draws. */
export type ProgramBody = Pick<ProgramSpec, 'kind' | 'calls'>;

/**
 * Draws ONE program body from `rng`. Deterministic: equal streams give deep-equal bodies.
 * Bodies list calls in topological order with unique ids.
 */
export type BodyGenerator = (rng: Rng) => ProgramBody;

/**
 * Options of every workload, keyed by kind; each generator reads its own key (Mixed reads all
 * three). A given field replaces the default field whole (shallow merge).
 */
export interface WorkloadOptions {
  readonly sharegpt?: Partial<ShareGptOptions>;
  readonly bfcl?: Partial<BfclOptions>;
  readonly lats?: Partial<LatsOptions>;
}

export const WorkloadName = {
  sharegpt: 'sharegpt',
  bfcl: 'bfcl',
  lats: 'lats',
  mixed: 'mixed',
} as const;
export type WorkloadName = (typeof WorkloadName)[keyof typeof WorkloadName];

/** A registered workload: builds a body generator from options (validated once, `ConfigError`). */
export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  create(options?: WorkloadOptions): BodyGenerator;
}

/** The only place that lists the workloads. */
const WORKLOADS: Readonly<Record<WorkloadName, Workload>> = {
  [WorkloadName.sharegpt]: {
    name: WorkloadName.sharegpt,
    description: 'chatbot conversations: one thread (a chain), decode-heavy',
    create: (o) => createShareGpt(o?.sharegpt),
  },
  [WorkloadName.bfcl]: {
    name: WorkloadName.bfcl,
    description: 'BFCL v3 tool use: one thread (a chain) with tool delays, prefill-heavy',
    create: (o) => createBfcl(o?.bfcl),
  },
  [WorkloadName.lats]: {
    name: WorkloadName.lats,
    description: 'LATS tree search (MCTS on HotpotQA): parallel expansions, many threads',
    create: (o) => createLats(o?.lats),
  },
  [WorkloadName.mixed]: {
    name: WorkloadName.mixed,
    description: 'equal mix of sharegpt, bfcl and lats (kind drawn uniformly per program)',
    create: (o) => createMixed(o),
  },
};

/** Every registered workload name, in registry order. */
export const workloadNames: readonly WorkloadName[] = Object.keys(WORKLOADS) as WorkloadName[];

/** Looks a workload up by name; throws `UnknownNameError` listing the known names. */
export function getWorkload(name: string): Workload {
  const workload = (WORKLOADS as Record<string, Workload | undefined>)[name];
  if (!workload) throw new UnknownNameError('workload', name, workloadNames);
  return workload;
}

export interface GenerateParams {
  /** Seed of every stream (integer). */
  readonly seed: number;
  /** Number of programs (integer >= 0). */
  readonly count: number;
  /** Poisson arrival rate, programs per second (> 0; Infinity puts every arrival at 0, an offline batch). */
  readonly rate: number;
  readonly options?: WorkloadOptions;
}

/** `sharegpt-000042`: workload name and the 0-based index, zero-padded to 6 digits. */
export function programId(name: string, index: number): string {
  return `${name}-${String(index).padStart(6, '0')}`;
}

/** The stream program `index` of workload `name` draws its body from: depends only on (seed, name, index). */
export function bodyRng(seed: number, name: string, index: number): Rng {
  return forkRng(seed, `body/${name}/${index}`);
}

/**
 * Arrival times (seconds) of `count` programs: a Poisson process of `rate` programs/s starting
 * at 0. Common random numbers: the unit-rate arrival times come from the stream
 * `forkRng(seed, 'arrivals')` and are divided by `rate`, so two rates give the same pattern
 * scaled by their ratio. Non-decreasing.
 */
export function arrivalsAt(seed: number, count: number, rate: number): number[] {
  if (!Number.isInteger(count) || count < 0) throw new ConfigError(`count must be an integer >= 0, got ${count}`);
  if (!(rate > 0)) throw new ConfigError(`rate must be > 0 programs/s, got ${rate}`);
  const rng = forkRng(seed, 'arrivals');
  const out: number[] = [];
  let unit = 0;
  for (let i = 0; i < count; i++) {
    unit += exponential(rng, 1);
    out.push(rate === Infinity ? 0 : unit / rate);
  }
  return out;
}

/**
 * `count` programs of workload `name` with Poisson arrivals at `rate`. Program i's body depends
 * only on (seed, name, i, options) and not on `rate` or `count`, so a rate sweep replays the same
 * programs, scaled in time. Ids `${name}-${i padded to 6}`; `kind` is the body's kind (for Mixed,
 * the kind actually drawn). Throws `UnknownNameError` or `ConfigError`.
 */
export function generatePrograms(name: string, params: GenerateParams): ProgramSpec[] {
  const generate = getWorkload(name).create(params.options);
  const arrivals = arrivalsAt(params.seed, params.count, params.rate);
  return arrivals.map((arrival, i) => {
    const body = generate(bodyRng(params.seed, name, i));
    return { id: programId(name, i), arrival, kind: body.kind, calls: body.calls };
  });
}

/** Per-workload measurements over a set of programs (for tests, docs and CLI reports). */
export interface WorkloadStats {
  readonly programs: number;
  readonly calls: number;
  readonly callsPerProgramMean: number;
  readonly callsPerProgramMax: number;
  /** Mean new prompt tokens per call (`input`, excluding parent context and shared prefix). */
  readonly inputMean: number;
  /** Mean generated tokens per call. */
  readonly outputMean: number;
  /** Largest context (prompt + output, tokens) of any call. */
  readonly maxContext: number;
  /** Mean over programs of the largest context of any of its calls. */
  readonly deepestContextMean: number;
}

/** Measures programs; a call's context follows the context rule of `CallSpec`. */
export function summarizePrograms(programs: readonly ProgramSpec[]): WorkloadStats {
  let calls = 0;
  let maxCalls = 0;
  let input = 0;
  let output = 0;
  let maxContext = 0;
  let deepestSum = 0;
  for (const p of programs) {
    const ctx = new Map<string, number>();
    let deepest = 0;
    for (const c of p.calls) {
      const first = c.parents[0];
      const base = first === undefined ? (c.shared?.tokens ?? 0) : (ctx.get(first) ?? 0);
      const total = base + c.input + c.output;
      ctx.set(c.id, total);
      deepest = Math.max(deepest, total);
      input += c.input;
      output += c.output;
    }
    calls += p.calls.length;
    maxCalls = Math.max(maxCalls, p.calls.length);
    maxContext = Math.max(maxContext, deepest);
    deepestSum += deepest;
  }
  const n = programs.length;
  return {
    programs: n,
    calls,
    callsPerProgramMean: n ? calls / n : 0,
    callsPerProgramMax: maxCalls,
    inputMean: calls ? input / calls : 0,
    outputMean: calls ? output / calls : 0,
    maxContext,
    deepestContextMean: n ? deepestSum / n : 0,
  };
}
