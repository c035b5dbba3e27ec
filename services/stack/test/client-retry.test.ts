import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureNatsServer } from '../src/ensure-nats-server.ts';

describe('the client retries a publish while the intake stream has no leader', () => {
  let server: NatsServerHandle;
  let scheduler: RunningScheduler | null = null;
  let engine: RunningEngine | null = null;
  let client: AutellixClient | null = null;
  afterAll(async () => {
    await client?.close();
    await engine?.stop();
    await scheduler?.stop();
    await server?.stop();
  });

  it('stores a session open sent before the stream exists, once, as soon as it does', async () => {
    server = await startNatsServer({ binary: ensureNatsServer(() => {}) });
    client = await AutellixClient.connect({ servers: server.url });
    // No stream yet: JetStream answers "no responders", as a stream electing a leader does.
    const opening = client.openSession({ sessionId: 'early', timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1000));
    scheduler = await startScheduler(server.url, DEFAULT_SERVICE_CONFIG);
    engine = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'engine-0', speed: 20 });
    const session = await opening;
    expect(session.existing).toBe(false);
    const out = await session.call({ promptTokens: 20, maxTokens: 4 }).result;
    expect(out.usage.completionTokens).toBe(4);
    expect((await session.close()).callsCompleted).toBe(1);
    expect(scheduler.actor.counters.sessionsOpened).toBe(1);
  });
});
