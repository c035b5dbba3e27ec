import type { SchedulerActor } from '@autellix/scheduler';
import { expect } from 'vitest';

/**
 * Checks what an example client (examples/c, examples/python) printed for its run: a plan call
 * and three forks on threads of their own, 30 tokens each, streamed, on the stack's engines; and
 * that the scheduler counted all four (`before`: its completions before the run) and closed the
 * session, reporting all four: the program closes on its last result, which can overtake that
 * call's outcome, and the close's answer waits for it.
 */
export async function checkExampleRun(stdout: string, actor: SchedulerActor, before: number): Promise<void> {
  const summary = JSON.parse(stdout.trim().split('\n').at(-1) as string) as {
    sessionId: string;
    callsCompleted: number;
    calls: { callId: string; threadId: string; engineId: string; chunks: number; completionTokens: number }[];
  };
  expect(summary.calls.map((c) => c.callId)).toEqual(['plan', 'leg0', 'leg1', 'leg2']);
  expect(new Set(summary.calls.map((c) => c.threadId)).size).toBe(4);
  expect(summary.calls.every((c) => c.completionTokens === 30 && c.chunks >= 1)).toBe(true);
  expect(summary.calls.every((c) => c.engineId === 'engine-0' || c.engineId === 'engine-1')).toBe(true);
  expect(summary.callsCompleted).toBe(4);
  await expect.poll(() => actor.counters.callsCompleted).toBe(before + 4);
  expect(actor.core.programs.has(summary.sessionId)).toBe(false);
}
