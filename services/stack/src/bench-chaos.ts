import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import { ConfigError } from '@autellix/core';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import { intakeStreamName, processTableBucket } from '@autellix/protocol';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import { startNatsCluster } from '@autellix/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { ensureNatsServer } from './ensure-nats-server.ts';

export interface ChaosBenchOptions {
  readonly programs: number;
  readonly calls: number;
  readonly repeats: number;
  /** Wall ms after the first arrival at which the leader's node is killed. */
  readonly killAfterMs: number;
  readonly out: string;
  readonly log: (line: string) => void;
}

/** One run: a fresh cluster, one node killed. */
export interface ChaosRun {
  readonly killed: string;
  readonly killedAtMs: number;
  readonly programsFailed: number;
  /** First failure messages (at most 5). */
  readonly failures: readonly string[];
  readonly callsSubmitted: number;
  /** Calls the engines ran beyond one each (a call placed again while its first run went on). */
  readonly callsRunTwice: number;
  /** Longest stretch without a completion after the kill (ms). */
  readonly recoveryMs: number;
  readonly wallSeconds: number;
}

async function waitForJetStream(nc: NatsConnection): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await jetstreamManager(nc, { timeout: 1000 });
      return;
    } catch (err) {
      if (i > 30) throw err;
    }
  }
}

/**
 * Kill -9 of one node of a 3-node NATS cluster mid-run. The intake stream and the process table
 * have 3 replicas; every service and the programs connect to n0, and the stream's and table's
 * leaders are moved off n0 first, so the node killed leads them (a client connected to the
 * killed node would lose the core-NATS replies sent while it reconnects: results are not
 * durable). Each run reports programs lost, calls run twice, and the recovery time.
 */
export async function runChaosBench(o: ChaosBenchOptions): Promise<ChaosRun[]> {
  for (const [k, v] of [['programs', o.programs], ['calls', o.calls], ['repeats', o.repeats]] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`--${k} ${v}: expected an integer >= 1`);
  }
  const runs: ChaosRun[] = [];
  for (let r = 0; r < o.repeats; r++) {
    const cluster = await startNatsCluster({ binary: ensureNatsServer(o.log) });
    const servers = cluster.urls[0] as string;
    let scheduler: RunningScheduler | null = null;
    const engines: RunningEngine[] = [];
    let client: AutellixClient | null = null;
    try {
      const admin = await connect({ servers });
      await waitForJetStream(admin);
      // A new cluster may know fewer than 3 JetStream peers for a moment ("no suitable peers").
      for (let i = 0; scheduler === null; i++) {
        try {
          scheduler = await startScheduler(servers, { ...DEFAULT_SERVICE_CONFIG, replicas: 3 }, () => {});
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      for (const id of ['engine-0', 'engine-1']) engines.push(await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers, engineId: id, speed: 40 }));
      client = await AutellixClient.connect({ servers });
      const jsm = await jetstreamManager(admin);
      for (const name of [intakeStreamName(), `KV_${processTableBucket()}`]) {
        for (let i = 0; i < 20 && (await jsm.streams.info(name)).cluster?.leader === 'n0'; i++) {
          await admin.request(`$JS.API.STREAM.LEADER.STEPDOWN.${name}`, undefined, { timeout: 5000 }).catch(() => undefined);
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      await new Promise((res) => setTimeout(res, 800)); // heartbeats
      const completions: number[] = [];
      const failures: string[] = [];
      const t0 = performance.now();
      const c = client;
      const run = Promise.all(
        Array.from({ length: o.programs }, async (_, i) => {
          await new Promise((res) => setTimeout(res, i * 12));
          try {
            const s = await c.openSession({ sessionId: `chaos-${r}-${i}`, timeoutMs: 30_000 });
            let parent: string | null = null;
            for (let j = 0; j < o.calls; j++) {
              const callId = `c${j}`;
              await s.call({ promptTokens: 64, maxTokens: 20, callId, stream: false, timeoutMs: 60_000, ...(parent === null ? {} : { parents: [parent] }) }).result;
              completions.push(performance.now() - t0);
              parent = callId;
            }
            await s.close({ timeoutMs: 30_000 });
          } catch (err) {
            failures.push((err as Error).message);
          }
        }),
      );
      await new Promise((res) => setTimeout(res, o.killAfterMs));
      const leader = (await jsm.streams.info(intakeStreamName())).cluster?.leader ?? 'n1';
      await admin.close();
      const killedAt = performance.now() - t0;
      cluster.nodes[Number(leader.slice(1))]?.kill();
      await run;
      const wall = (performance.now() - t0) / 1000;
      const after = completions.filter((t) => t >= killedAt).sort((a, b) => a - b);
      let gap = (after[0] ?? killedAt) - killedAt;
      for (let i = 1; i < after.length; i++) gap = Math.max(gap, (after[i] as number) - (after[i - 1] as number));
      const submitted = o.programs * o.calls;
      const ran = engines.reduce((n, e) => n + e.actor.counters.completed, 0);
      const row: ChaosRun = {
        killed: leader,
        killedAtMs: killedAt,
        programsFailed: failures.length,
        failures: failures.slice(0, 5),
        callsSubmitted: submitted,
        callsRunTwice: Math.max(0, ran - (submitted - failures.length * o.calls)),
        recoveryMs: gap,
        wallSeconds: wall,
      };
      runs.push(row);
      o.log(`run ${r + 1}: killed ${leader} at ${(killedAt / 1000).toFixed(2)} s; ${row.programsFailed} programs failed, ${row.callsRunTwice} calls run twice, recovery ${gap.toFixed(0)} ms`);
    } finally {
      await client?.close();
      for (const e of engines) await e.stop();
      await scheduler?.stop();
      await cluster.stop();
    }
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'chaos.json'), `${JSON.stringify({ programs: o.programs, calls: o.calls, runs }, null, 2)}\n`);
  return runs;
}
