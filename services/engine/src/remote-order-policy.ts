import type { CallKey, Policy, ProgramRow } from '@autellix/core';
import { PolicyName } from '@autellix/core';

/**
 * The engine-side view of the scheduler's order. The scheduler owns every priority decision
 * (start level, order key, demotion, anti-starvation); the engine only sorts by what it was
 * sent. This policy reads the order key the scheduler sent for each call and never demotes or
 * promotes on its own, so a local `SchedulerCore` can drive `SimEngine` unchanged.
 *
 * `name` is reported as `fcfs` only to satisfy the type; nothing reads it.
 */
export function remoteOrderPolicy(keys: ReadonlyMap<CallKey, number>): Policy {
  return {
    name: PolicyName.fcfs,
    clairvoyant: false,
    demotes: false,
    antiStarvation: false,
    usesRank: false,
    startLevel: () => 0,
    keyReadsProgram: false,
    orderKey: (call) => keys.get(call.key) ?? Number.POSITIVE_INFINITY,
    foldCompleted: (program: ProgramRow) => program.scalar,
  };
}
