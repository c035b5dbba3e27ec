import { fileURLToPath } from 'node:url';
import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, leaseBucket, startScheduler } from '@autellix/scheduler';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { generatePrograms } from '@autellix/sim';
import type { NatsServerHandle, ServiceProcess } from '@autellix/testkit';
import { spawnService, startNatsServer } from '@autellix/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { replay } from '../src/index.ts';

const ENGINE_MAIN = fileURLToPath(new URL('../../engine/src/main.ts', import.meta.url));
const SCHEDULER_MAIN = fileURLToPath(new URL('../../scheduler/src/main.ts', import.meta.url));
const SPEED = 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the live system survives crashes', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  });

  async function server(): Promise<NatsServerHandle> {
    const s = await startNatsServer();
    cleanups.push(() => s.stop());
    return s;
  }
  async function engine(url: string, id: string): Promise<RunningEngine> {
    const e = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: url, engineId: id, speed: SPEED });
    cleanups.push(() => e.stop());
    return e;
  }
  function child(script: string, args: string[], ready: RegExp): ServiceProcess {
    const p = spawnService({ script, args, readyPattern: ready });
    cleanups.push(() => p.kill());
    return p;
  }
  async function client(url: string): Promise<AutellixClient> {
    const c = await AutellixClient.connect({ servers: url });
    cleanups.push(() => c.close());
    return c;
  }

  it('an engine killed mid-run: its calls are placed again and every program completes', async () => {
    const nats = await server();
    const scheduler: RunningScheduler = await startScheduler(nats.url, DEFAULT_SERVICE_CONFIG);
    cleanups.push(() => scheduler.stop());
    const e0 = await engine(nats.url, 'e0');
    const e1 = child(ENGINE_MAIN, ['--nats', nats.url, '--id', 'e1', '--speed', String(SPEED)], /serving on/);
    await e1.ready;
    await expect.poll(() => scheduler.actor.engines.size, { timeout: 5000 }).toBe(2);
    const c = await client(nats.url);
    const programs = generatePrograms('mixed', { seed: 3, count: 40, rate: 0.6 });
    const run = replay({ client: c, programs, speed: SPEED, clock: () => performance.now(), runTag: 'ekill' });
    await sleep(2500);
    await e1.kill();
    const out = await run;
    expect(out.filter((p) => p.error !== null).map((p) => p.error)).toEqual([]);
    expect(scheduler.actor.counters.reassignments).toBeGreaterThan(0);
    // After the kill, everything finished on the survivor.
    expect(e0.actor.counters.completed).toBeGreaterThan(0);
    expect(scheduler.actor.engines.ids()).toEqual(['e0']);
  });

  /**
   * A run with a scheduler crash in the middle: two engines, a probe session with three calls
   * completed before the crash, 40 mixed programs replayed, `crash` called 2 s in. Afterwards
   * every program has completed, the engines completed exactly the calls submitted (none ran
   * twice), and the probe session kept its calls and attained service across the crash.
   */
  async function runThroughSchedulerCrash(url: string, seed: number, crash: () => Promise<void>): Promise<void> {
    const engines = [await engine(url, 'e0'), await engine(url, 'e1')];
    const c = await client(url);
    const probe = await c.openSession({ sessionId: 'probe' });
    for (let i = 0; i < 3; i++) await probe.call({ promptTokens: 500, maxTokens: 50, stream: false }).result;
    const programs = generatePrograms('mixed', { seed, count: 40, rate: 0.6 });
    const calls = programs.reduce((s, p) => s + p.calls.length, 0);
    const run = replay({ client: c, programs, speed: SPEED, clock: () => performance.now(), runTag: `crash${seed}` });
    await sleep(2000);
    await crash();
    const out = await run;
    expect(out.filter((p) => p.error !== null).map((p) => p.error)).toEqual([]);
    await probe.call({ promptTokens: 500, maxTokens: 50, stream: false }).result;
    const completed = engines.reduce((s, e) => s + e.actor.counters.completed, 0);
    expect(completed).toBe(calls + 4);
    const closed = await probe.close();
    expect(closed.callsCompleted).toBe(4);
    expect(closed.service).toBeGreaterThan(0);
  }

  it('kill -9 of the scheduler mid-run, then restart: every program completes once, attained service carried over', async () => {
    const nats = await server();
    const args = ['--nats', nats.url, '--policy', 'plas', '--metrics-port', '0'];
    const first = child(SCHEDULER_MAIN, args, /serving on/);
    await first.ready;
    await runThroughSchedulerCrash(nats.url, 4, async () => {
      await first.kill();
      await sleep(1000);
      const second = child(SCHEDULER_MAIN, args, /serving on/);
      await second.ready;
      expect(second.lines.some((l) => /recovered \d+ open sessions/.test(l))).toBe(true);
    });
  });

  it('kill -9 of the active scheduler with a standby: the standby takes over through the lease, every program completes once', async () => {
    const nats = await server();
    const args = ['--nats', nats.url, '--policy', 'plas', '--metrics-port', '0', '--lease-ms', '800'];
    const active = child(SCHEDULER_MAIN, args, /serving on/);
    await active.ready;
    const standby = child(SCHEDULER_MAIN, args, /serving on/);
    await expect.poll(() => standby.lines.some((l) => /standing by/.test(l)), { timeout: 5000 }).toBe(true);
    await runThroughSchedulerCrash(nats.url, 5, async () => {
      await active.kill();
      await standby.ready;
      // It took the lease over from the dead holder once its renewals stopped (not a fresh
      // create), and, having heard both engines while waiting, recovery waits for their reports.
      expect(standby.lines.some((l) => /took over the leadership lease from \S+/.test(l))).toBe(true);
      expect(standby.lines.some((l) => /placements wait for 2 engines to report/.test(l))).toBe(true);
    });
  });

  it('a scheduler whose lease is taken from it stops at once (fenced)', async () => {
    const nats = await server();
    const fenced: string[] = [];
    const config = { ...DEFAULT_SERVICE_CONFIG, leaseMs: 600 };
    const a = await startScheduler(nats.url, config, () => {}, undefined, {}, { onFenced: (why) => fenced.push(why) });
    cleanups.push(() => a.stop());
    expect(a.lease?.isHeld).toBe(true);
    // Another holder writes the record (as a scheduler that wrongly believed the lease lapsed would).
    const nc = await connect({ servers: nats.url });
    cleanups.push(() => nc.close());
    // A plain put to the key's subject: a new revision the holder did not write.
    await jetstream(nc).publish(`$KV.${leaseBucket(config.prefix)}.leader`, new Uint8Array([0x80]));
    await expect.poll(() => fenced.length, { timeout: 3000 }).toBe(1);
    expect(fenced[0]).toMatch(/another scheduler holds the lease/);
    expect(a.nc.isClosed()).toBe(true);
    expect(a.lease?.isHeld).toBe(false);
  });
});
