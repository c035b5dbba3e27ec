import { AutellixClient } from '@autellix/client';
import { generatePrograms } from '@autellix/sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { replay, startLocalStack } from '../src/index.ts';

describe('shared short-call work', () => {
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
      scheduler: { sharedShortCalls: true },
      // Four slots: engines fill up, leave the shared queue, and offers fall back to the balancer.
      engine: { maxBatchSeqs: 4 },
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url });
    while (stack.scheduler.actor.engines.size < 2) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('engines with room take short calls; with none, offers fall back; every program completes once', async () => {
    const programs = generatePrograms('bfcl', { seed: 5, count: 30, rate: 2 });
    const calls = programs.reduce((s, p) => s + p.calls.length, 0);
    const out = await replay({ client, programs, speed: 40, clock: () => performance.now(), runTag: 'shared' });
    expect(out.filter((p) => p.error !== null).map((p) => p.error)).toEqual([]);
    const c = stack.scheduler.actor.counters;
    expect(c.sharedTaken).toBeGreaterThan(0);
    expect(c.sharedFallbacks).toBeGreaterThan(0);
    // Both engines took shared work, and no call ran twice.
    const completed = stack.engines.map((e) => e.actor.counters.completed);
    expect(completed.every((n) => n > 0)).toBe(true);
    expect(completed.reduce((a, b) => a + b, 0)).toBe(calls);
  });
});
