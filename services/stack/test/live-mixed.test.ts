import { AutellixClient } from '@autellix/client';
import { generatePrograms } from '@autellix/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { replay, startLocalStack } from '../src/index.ts';

describe('the live system runs a mixed agent workload end to end', () => {
  let stack: LocalStack;
  let client: AutellixClient;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 2,
      speed: 40,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      // A small batch, so higher-priority calls must preempt running ones.
      engine: { maxBatchSeqs: 8 },
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('completes 60 mixed programs on 8-slot engines, with preemption and pinned long calls', async () => {
    const programs = generatePrograms('mixed', { seed: 7, count: 60, rate: 0.5 });
    const out = await replay({ client, programs, speed: 40, clock: () => performance.now(), runTag: 'e2e' });
    expect(out.filter((p) => p.error !== null).map((p) => p.error)).toEqual([]);
    expect(out.every((p) => Number.isFinite(p.completion) && p.completion >= p.arrival)).toBe(true);
    // Preemption happened and is visible in the results.
    const preemptions = out.reduce((s, p) => s + p.preemptions, 0);
    expect(preemptions).toBeGreaterThan(0);
    // Every long call (over the balancer's 2048 tokens) of a program ran on one engine.
    let pinnedPrograms = 0;
    for (const p of out) {
      const long = new Set(p.placements.filter((c) => c.promptTokens > 2048).map((c) => c.engineId));
      expect(long.size).toBeLessThanOrEqual(1);
      if (long.size === 1) pinnedPrograms += 1;
    }
    expect(pinnedPrograms).toBeGreaterThan(0);
    // Both engines took work, and the scheduler's table is empty again.
    const engines = new Set(out.flatMap((p) => p.placements.map((c) => c.engineId)));
    expect(engines.size).toBe(2);
    // Outcomes reach the scheduler through the stream, just after the results reach the client.
    const calls = out.reduce((s, p) => s + p.calls, 0);
    await expect.poll(() => stack.scheduler.actor.counters.callsCompleted, { timeout: 5000 }).toBe(calls);
    expect(stack.scheduler.actor.core.counters.lifecycleRejected).toBe(0);
  });
});
