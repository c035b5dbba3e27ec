import { AutellixClient } from '@autellix/client';
import { getPolicy, policyNames } from '@autellix/core';
import { generatePrograms } from '@autellix/sim';
import { describe, expect, it } from 'vitest';
import { replay, startLocalStack } from '../src/index.ts';

// Every policy the live scheduler accepts (the clairvoyant one needs an oracle and is refused).
const livePolicies = policyNames.filter((name) => !getPolicy(name).clairvoyant);

describe('every live policy runs programs end to end', () => {
  it.each(livePolicies)('%s completes ShareGPT and BFCL programs on a small engine', async (policy) => {
    const stack = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 40,
      policy,
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      engine: { maxBatchSeqs: 4 },
      gateway: null,
      log: () => {},
    });
    const client = await AutellixClient.connect({ servers: stack.url });
    try {
      // Short chats and BFCL chains, two program classes (ids are distinct by kind), arriving faster than 4 places serve them.
      const programs = [...generatePrograms('sharegpt', { seed: 11, count: 6, rate: 4 }), ...generatePrograms('bfcl', { seed: 12, count: 6, rate: 4 })];
      const out = await replay({ client, programs, speed: 40, clock: () => performance.now(), runTag: `policy-${policy}` });
      expect(out.filter((p) => p.error !== null).map((p) => p.error)).toEqual([]);
      const calls = out.reduce((s, p) => s + p.calls, 0);
      await expect.poll(() => stack.scheduler.actor.counters.callsCompleted, { timeout: 5000 }).toBe(calls);
      expect(stack.scheduler.actor.counters.callsFailed).toBe(0);
      // Programs that ended were learned by class (what `gittins` ranks by; recorded under every policy).
      expect(stack.scheduler.actor.core.sizes.samples('sharegpt') + stack.scheduler.actor.core.sizes.samples('bfcl')).toBeGreaterThan(0);
      // The sim engine says in its heartbeats that it keeps a prefix cache (what gittins' auto fallback reads).
      expect(stack.scheduler.actor.engines.loads(() => 0).map((l) => l.prefixCache)).toEqual([true]);
    } finally {
      await client.close();
      await stack.stop();
    }
  });
});
