import type { CallRecord, SchedulerCore } from '@autellix/core';

/**
 * The sort key an engine orders by: the policy's order key, with NaN (unknown: `gittins` before
 * it has learned a class), +Infinity and every key above `Number.MAX_SAFE_INTEGER` sent as
 * `Number.MAX_SAFE_INTEGER`, and -Infinity and every key below its negative as that negative, so
 * they sort where the core sorts them (NaN last). The wire carries no integer beyond 2^53 and
 * every double that large is an integer, so such keys cannot go as they are (`Number.MAX_VALUE`
 * cannot stand for "last"; a Gittins index of 1e17, from a learned size a hair above a program's
 * attained service, would fail its call). Keys that large differ only in order among themselves,
 * which is given up.
 */
export function orderKeyOf(core: SchedulerCore, rec: CallRecord): number {
  const policy = core.policy;
  const k = policy.orderKey(rec, policy.keyReadsProgram ? core.programs.get(rec.programId) : undefined);
  if (Number.isNaN(k) || k > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  return Math.max(k, -Number.MAX_SAFE_INTEGER);
}
