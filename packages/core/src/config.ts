import { ConfigError } from './errors.ts';

/** How a call's attained service is counted from the engine steps it ran in. */
export const ServiceUnit = {
  /** The whole wall time of every step the call was in the batch (the paper's "executor time"). */
  step: 'step',
  /** The step time divided by the number of calls in that step (a fair share). */
  share: 'share',
} as const;
export type ServiceUnit = (typeof ServiceUnit)[keyof typeof ServiceUnit];

/**
 * What `gittins` assumes of a program where its learned size distribution is silent: nothing
 * learned yet, the program's class short of its own samples, or the program has outlived every
 * sample of its class.
 */
export const GittinsFallback = {
  /**
   * Nothing learned: no index (calls tie and run first come, first served). Class short of
   * samples: the pooled distribution of every class. Outlived every sample: about to finish,
   * index +Infinity, so the program runs ahead of all others. Finishing such programs keeps the
   * working set of a prefix-caching engine small (Mixed: 1.28x fcfs's capacity against 1.10x
   * with `lindy`); on an engine that queues calls for a few places it lets a long program hold
   * them while short ones wait.
   */
  finishFirst: 'finish-first',
  /**
   * Wherever the distribution is silent, expect the program to need as much more service as it
   * has attained (the Lindy estimate of a heavy tail): index 1 / attained service (attained
   * floored at the table's first grid point), which orders such programs least attained first,
   * as PLAS would.
   */
  lindy: 'lindy',
  /**
   * Chosen per call by the engine it is placed on: `lindy` on an engine that says it keeps no
   * prefix cache (`EngineLoad.prefixCache` false: the llama engine), `finish-first` on any
   * other (one that keeps a prefix cache, or does not say). The call's index is taken again at
   * each placement; before its first, it is `finish-first`'s. Where an offer of shared work is
   * taken by another engine, the balancer's choice decided.
   */
  auto: 'auto',
} as const;
export type GittinsFallback = (typeof GittinsFallback)[keyof typeof GittinsFallback];

/**
 * Discretisation into K priority queues. Queue i (0-based) holds scalars in
 * [boundaries[i-1], boundaries[i]), with boundaries[-1] = 0 and boundaries[K-1] = +Infinity,
 * so `boundaries` has K-1 strictly ascending positive entries. `quanta[i]` is the service a
 * call may attain in queue i before it is demoted to queue i+1 (the last queue never demotes).
 * Units: seconds of service.
 */
export interface QueueConfig {
  readonly boundaries: readonly number[];
  readonly quanta: readonly number[];
}

/** Anti-starvation: promote a waiting call to queue 0 when (Wp + Wc) / max(Tp + Tc, minService) >= beta. */
export interface StarvationConfig {
  /** Threshold; `null` turns anti-starvation off. */
  readonly beta: number | null;
  /** Floor of the denominator, so a program with no service yet is not promoted at its first wait. Seconds. */
  readonly minService: number;
}

/** Everything the scheduling core needs to order calls. Validated once by `validateSchedulerConfig`. */
export interface SchedulerConfig {
  readonly queues: QueueConfig;
  readonly starvation: StarvationConfig;
  /** The engine rebuilds its batch in priority order every this many steps (>= 1). */
  readonly rebuildEverySteps: number;
  readonly serviceUnit: ServiceUnit;
  /** `gittins` only: the index where the learned distribution is silent (see `GittinsFallback`). */
  readonly gittinsFallback: GittinsFallback;
}

/**
 * K = 12 queues: boundaries doubling from 1 s of service (about one short call) to 1024 s
 * (beyond the largest programs of the paper's workloads), so programs of different sizes land
 * in different queues instead of piling into the last one. Each quantum is its queue's width
 * (1 s for the first two), so a call drops a level about when its program's service would
 * have crossed into the next queue. The paper leaves K, boundaries and quanta open; the
 * third-party choice of K = 7 up to 32 s is available as `SHORT_QUEUES` for comparison.
 */
export const DEFAULT_QUEUES: QueueConfig = {
  boundaries: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  quanta: [1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
};

/** K = 7 queues with boundaries doubling from 1 s to 32 s and quanta doubling from 1 s (a third-party choice). */
export const SHORT_QUEUES: QueueConfig = {
  boundaries: [1, 2, 4, 8, 16, 32],
  quanta: [1, 2, 4, 8, 16, 32, 64],
};

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  queues: DEFAULT_QUEUES,
  starvation: { beta: 8, minService: 1 },
  rebuildEverySteps: 1,
  serviceUnit: ServiceUnit.step,
  gittinsFallback: GittinsFallback.auto,
};

/** Throws `ConfigError` naming the first offending field; returns the config unchanged when valid. */
export function validateSchedulerConfig(config: SchedulerConfig): SchedulerConfig {
  const { boundaries, quanta } = config.queues;
  if (quanta.length < 1) throw new ConfigError('queues.quanta must hold at least one queue');
  if (boundaries.length !== quanta.length - 1) {
    throw new ConfigError(
      `queues.boundaries must have K-1 = ${quanta.length - 1} entries for K = ${quanta.length} quanta, got ${boundaries.length}`,
    );
  }
  let previous = 0;
  for (const [i, b] of boundaries.entries()) {
    if (!Number.isFinite(b) || b <= previous) {
      throw new ConfigError(`queues.boundaries[${i}] = ${b} must be finite and greater than ${previous}`);
    }
    previous = b;
  }
  for (const [i, q] of quanta.entries()) {
    if (!(q > 0)) throw new ConfigError(`queues.quanta[${i}] = ${q} must be positive (Infinity allowed)`);
  }
  const { beta, minService } = config.starvation;
  if (beta !== null && !(beta > 0 && Number.isFinite(beta))) {
    throw new ConfigError(`starvation.beta = ${beta} must be a positive number or null (off)`);
  }
  if (!(minService > 0 && Number.isFinite(minService))) {
    throw new ConfigError(`starvation.minService = ${minService} must be a positive number of seconds`);
  }
  if (!Number.isInteger(config.rebuildEverySteps) || config.rebuildEverySteps < 1) {
    throw new ConfigError(`rebuildEverySteps = ${config.rebuildEverySteps} must be an integer >= 1`);
  }
  if (!Object.values(ServiceUnit).includes(config.serviceUnit)) {
    throw new ConfigError(`serviceUnit = ${String(config.serviceUnit)} must be one of ${Object.values(ServiceUnit).join(', ')}`);
  }
  if (!Object.values(GittinsFallback).includes(config.gittinsFallback)) {
    throw new ConfigError(`gittinsFallback = ${String(config.gittinsFallback)} must be one of ${Object.values(GittinsFallback).join(', ')}`);
  }
  return config;
}

/** The queue index (0-based) whose [lo, hi) range holds `scalar`. Negative scalars count as 0. */
export function queueForScalar(queues: QueueConfig, scalar: number): number {
  const b = queues.boundaries;
  for (let i = 0; i < b.length; i++) {
    if (scalar < (b[i] as number)) return i;
  }
  return b.length;
}
