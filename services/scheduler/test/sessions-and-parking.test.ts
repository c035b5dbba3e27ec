import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import { AutellixClient, SessionEndedError } from '@autellix/client';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningScheduler } from '../src/index.ts';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '../src/index.ts';

describe('session idle TTL and calls waiting for an engine', () => {
  let server: NatsServerHandle;
  let scheduler: RunningScheduler;
  let client: AutellixClient;
  const engines: RunningEngine[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    scheduler = await startScheduler(server.url, { ...DEFAULT_SERVICE_CONFIG, sweepMs: 20 });
    client = await AutellixClient.connect({ servers: server.url });
  });
  afterAll(async () => {
    await client?.close();
    for (const e of engines) await e.stop();
    await scheduler?.stop();
    await server?.stop();
  });

  it('a call with no live engine waits, and runs as soon as an engine appears', async () => {
    const session = await client.openSession();
    const handle = session.call({ promptTokens: 100, maxTokens: 8, stream: false });
    await expect.poll(() => scheduler.actor.parkedCalls).toBe(1);
    engines.push(await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'late', speed: 50 }));
    const out = await handle.result;
    expect(out.engineId).toBe('late');
    expect(scheduler.actor.parkedCalls).toBe(0);
  });

  it('a session idle for longer than its TTL ends; its next call gets session_ended', async () => {
    const session = await client.openSession({ idleTtlMs: 200 });
    await session.call({ promptTokens: 100, maxTokens: 4, stream: false }).result;
    await expect.poll(() => scheduler.actor.counters.sessionsEnded, { timeout: 3000 }).toBeGreaterThan(0);
    await expect(session.call({ promptTokens: 100, maxTokens: 4, stream: false }).result).rejects.toBeInstanceOf(SessionEndedError);
  });

  it('a session with a call in flight does not expire', async () => {
    const session = await client.openSession({ idleTtlMs: 100 });
    const ended = scheduler.actor.counters.sessionsEnded;
    // 1500 decode steps take several modelled seconds: at 50x, far longer than the 100 ms TTL.
    const out = await session.call({ promptTokens: 100, maxTokens: 1500, stream: false }).result;
    expect(out.latencyMs).toBeGreaterThan(100);
    expect(scheduler.actor.counters.sessionsEnded).toBe(ended);
  });
});
