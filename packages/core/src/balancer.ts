import type { EngineId, ProgramId } from './ids.ts';

/** What a balancer sees of one engine. */
export interface EngineLoad {
  readonly id: EngineId;
  /** Calls in the running batch. */
  readonly running: number;
  /** Calls assigned and not running (queued or preempted). */
  readonly queued: number;
  /** Fraction of KV blocks in use by calls, in [0, 1]. */
  readonly kvUsed: number;
  /**
   * True when the engine keeps a prefix cache across calls (a call can reuse KV another call
   * computed), false when it does not; absent when it does not say. Read by `gittins` under the
   * `auto` fallback; balancers ignore it.
   */
  readonly prefixCache?: boolean;
}

/** What a balancer sees of the call to place. */
export interface PlacementRequest {
  readonly programId: ProgramId;
  readonly promptTokens: number;
  /** The program's pinned engine, or null. */
  readonly pinnedEngine: EngineId | null;
}

/** A balancer's answer. */
export interface Placement {
  readonly engine: EngineId;
  /** Set when the program must from now on be pinned to `engine`. */
  readonly pin: boolean;
}

/** State a balancer may carry between calls, owned by the caller and passed back in (policies hold none). */
export interface BalancerState {
  /** Next index for round-robin. */
  cursor: number;
}

/** Names of the registered balancers. */
export const BalancerName = {
  roundRobin: 'round-robin',
  leastUsed: 'least-used',
  autellix: 'autellix',
  affinity: 'affinity',
} as const;
export type BalancerName = (typeof BalancerName)[keyof typeof BalancerName];

/** Options shared by balancers. */
export interface BalancerOptions {
  /** Calls with more prompt tokens than this are pinned to their program's engine (the paper: 2048). */
  readonly longCallTokens: number;
  /**
   * `affinity`: a program stays on its engine while that engine holds at most this many calls
   * more than the least-used one, plus `affinitySlackFraction` of the least-used engine's calls.
   */
  readonly affinitySlackCalls: number;
  readonly affinitySlackFraction: number;
}

export const DEFAULT_BALANCER_OPTIONS: BalancerOptions = { longCallTokens: 2048, affinitySlackCalls: 4, affinitySlackFraction: 0.25 };

/**
 * Places one call on one engine.
 *
 * Contract: `engines` lists the live engines in a fixed order (the tie-break order). An empty
 * list means no engine can take work: `place` returns null and changes no state. A pinned
 * engine that is no longer in `engines` is treated as absent (the program is re-pinned).
 */
export interface Balancer {
  readonly name: BalancerName;
  place(
    request: PlacementRequest,
    engines: readonly EngineLoad[],
    state: BalancerState,
    options: BalancerOptions,
  ): Placement | null;
}

/** Calls on an engine: running plus queued (the paper's "least-used"). */
export function callsOn(engine: EngineLoad): number {
  return engine.running + engine.queued;
}

/** The engine with the fewest calls; ties go to the earliest in `engines`. Null when empty. */
export function leastUsedEngine(engines: readonly EngineLoad[]): EngineLoad | null {
  let best: EngineLoad | null = null;
  for (const e of engines) {
    if (best === null || callsOn(e) < callsOn(best)) best = e;
  }
  return best;
}

/** Cycles through the engines in order, ignoring load and pins. */
export const roundRobinBalancer: Balancer = {
  name: BalancerName.roundRobin,
  place(_request, engines, state) {
    if (engines.length === 0) return null;
    const engine = engines[state.cursor % engines.length] as EngineLoad;
    state.cursor = (state.cursor + 1) % engines.length;
    return { engine: engine.id, pin: false };
  },
};

/** Fewest calls first, ignoring pins. */
export const leastUsedBalancer: Balancer = {
  name: BalancerName.leastUsed,
  place(_request, engines) {
    const best = leastUsedEngine(engines);
    return best === null ? null : { engine: best.id, pin: false };
  },
};

/**
 * The paper's locality rule: a call of at most `longCallTokens` prompt tokens goes to the
 * least-used engine; a longer one goes to its program's pinned engine, or pins the program to
 * the least-used engine. The pin lasts for the session.
 */
export const autellixBalancer: Balancer = {
  name: BalancerName.autellix,
  place(request, engines, _state, options) {
    if (engines.length === 0) return null;
    if (request.promptTokens > options.longCallTokens) {
      if (request.pinnedEngine !== null && engines.some((e) => e.id === request.pinnedEngine)) {
        return { engine: request.pinnedEngine, pin: false };
      }
      const best = leastUsedEngine(engines) as EngineLoad;
      return { engine: best.id, pin: true };
    }
    const best = leastUsedEngine(engines) as EngineLoad;
    return { engine: best.id, pin: false };
  },
};

/**
 * Cache affinity at every length: a program's calls follow the engine that ran its last call
 * (which holds its context in the prefix cache) unless that engine is busier than the
 * least-used one by more than the slack (`affinitySlackCalls` + `affinitySlackFraction` x the
 * least-used engine's calls); then the call goes to the least-used engine and the program
 * moves with it. Unlike `autellix`, short calls keep their locality too: program history is
 * private to its program, so only the engine that ran the program can serve it from cache.
 */
export const affinityBalancer: Balancer = {
  name: BalancerName.affinity,
  place(request, engines, _state, options) {
    const best = leastUsedEngine(engines);
    if (best === null) return null;
    const home = request.pinnedEngine === null ? undefined : engines.find((e) => e.id === request.pinnedEngine);
    if (home !== undefined) {
      const slack = options.affinitySlackCalls + options.affinitySlackFraction * callsOn(best);
      if (callsOn(home) <= callsOn(best) + slack) return { engine: home.id, pin: false };
    }
    return { engine: best.id, pin: true };
  },
};
