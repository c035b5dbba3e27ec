import type { SchedulerActor } from '@autellix/scheduler';
import { expect } from 'vitest';

/**
 * Waits until the scheduler has applied `n` completed calls of `programId`. An engine sends a
 * call's result to the program before its outcome reaches the scheduler, and `session.closed`
 * reports the calls completed as the scheduler knew them at the close (later outcomes are still
 * counted), so a test that asserts the count a close reports waits for this first.
 */
export async function outcomesApplied(actor: SchedulerActor, programId: string, n: number): Promise<void> {
  await expect.poll(() => actor.core.programs.get(programId)?.callsCompleted ?? -1, { timeout: 10_000 }).toBe(n);
}
