import type { CallOutcome } from '@autellix/client';
import type { Summary } from '@autellix/sim';
import { summarize } from '@autellix/sim';

/** One call's stamps on its way to an engine (epoch ms, one machine's clock). */
export interface CallStamps {
  /** Just before the client published `call.submit`. */
  readonly submittedAtMs: number;
  /** The scheduler's send of the assignment (`call.assign.sentAtMs`); null when it gave none. */
  readonly assignSentAtMs: number | null;
  /** The engine's receipt of the assignment. */
  readonly receivedAtMs: number;
}

/** A call's stamps from its result; null when the engine did not report its receipt time. */
export function stampsOf(out: Pick<CallOutcome, 'submittedAtMs' | 'timings'>): CallStamps | null {
  if (out.timings.receivedAtMs === undefined) return null;
  return { submittedAtMs: out.submittedAtMs, assignSentAtMs: out.timings.assignSentAtMs ?? null, receivedAtMs: out.timings.receivedAtMs };
}

/** The control plane's delay on a call's way to the engine, ms: the engine's receipt minus the client's submit. */
export function submitToEngineMs(c: CallStamps): number {
  return c.receivedAtMs - c.submittedAtMs;
}

/**
 * The submit path in its two parts, ms: submit to the scheduler's assignment (`toSchedulerMs`: the
 * client's work, the hop into the scheduler and its decision) and the assignment to the engine's
 * receipt (`toEngineMs`: the second hop).
 */
export interface HopSplit {
  readonly toSchedulerMs: Summary;
  readonly toEngineMs: Summary;
}

/** The two hops' summaries over `stamps`; null when there are none or any lacks the scheduler's stamp. */
export function splitOf(stamps: readonly CallStamps[]): HopSplit | null {
  if (stamps.length === 0 || stamps.some((c) => c.assignSentAtMs === null)) return null;
  return {
    toSchedulerMs: summarize(stamps.map((c) => (c.assignSentAtMs as number) - c.submittedAtMs)),
    toEngineMs: summarize(stamps.map((c) => c.receivedAtMs - (c.assignSentAtMs as number))),
  };
}
