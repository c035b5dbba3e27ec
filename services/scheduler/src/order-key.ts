import type { CallRecord, SchedulerCore } from '@autellix/core';

/**
 * The sort key an engine orders by: the policy's order key, with NaN (unknown: `gittins` before
 * it has learned a class) and +Infinity sent as `Number.MAX_SAFE_INTEGER`, so they sort after
 * every key an engine can be sent, as the core sorts them, and -Infinity as its negative. The
 * wire carries no integer above 2^53 and every double that large is an integer, so
 * `Number.MAX_VALUE` cannot stand for "last".
 */
export function orderKeyOf(core: SchedulerCore, rec: CallRecord): number {
  const policy = core.policy;
  const k = policy.orderKey(rec, policy.keyReadsProgram ? core.programs.get(rec.programId) : undefined);
  if (Number.isFinite(k)) return k;
  return k === Number.NEGATIVE_INFINITY ? -Number.MAX_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
}
