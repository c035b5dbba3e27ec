import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import { ConfigError } from '@autellix/core';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import { intakeStreamName, processTableBucket, resultsStreamName, subjects } from '@autellix/protocol';
import type { RunningScheduler } from '@autellix/scheduler';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '@autellix/scheduler';
import type { ServiceProcess } from '@autellix/testkit';
import { spawnService, startNatsCluster, startNatsServer } from '@autellix/testkit';
import { ENGINE_MAIN, SCHEDULER_MAIN } from './process-stack.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { ensureNatsServer } from './ensure-nats-server.ts';
import { OutcomeRuns } from './outcome-runs.ts';

/**
 * What is killed: a NATS cluster node (the intake stream's leader), the node the programs are
 * connected to (`nats-clients`: answers sent while they reconnect are read back from the results
 * stream), the scheduler process (then restarted), the active one of two schedulers with a
 * leadership lease (the standby takes over), or an engine process.
 */
export type ChaosTarget = 'nats' | 'nats-clients' | 'scheduler' | 'standby' | 'engine';

/** Lease of the `standby` target's schedulers (ms). */
const CHAOS_LEASE_MS = 1000;

export interface ChaosBenchOptions {
  readonly target: ChaosTarget;
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
  /**
   * Runs to an outcome beyond one per call (a call placed again while its first run went on, or
   * after it had finished), counted from the engines' outcome message ids (`OutcomeRuns`) by an
   * observer on the services' node.
   */
  readonly callsRunTwice: number;
  /** Distinct calls whose outcome the observer saw (what `callsRunTwice` was counted over). */
  readonly callsWithOutcome: number;
  /** Longest stretch without a completion after the kill (ms). */
  readonly recoveryMs: number;
  /** For the calls in flight at the kill, the longest time from the kill to their completion (ms). */
  readonly inFlightRecoveryMs: number;
  /** `call.result`s that reached the programs after their call had settled (a second result, dropped by the client); counted by the client. */
  readonly repliesAfterSettle: number;
  /** `standby` target: ms from the kill to the standby serving (the lease lapsing, then its start); else null. */
  readonly takeoverMs: number | null;
  readonly wallSeconds: number;
}

/** Counts the engines' outcomes seen on `nc` (a core subscription beside the intake stream's capture). */
function observeOutcomes(nc: NatsConnection): OutcomeRuns {
  const runs = new OutcomeRuns();
  nc.subscribe(subjects.outcomeAll(), { callback: (_e, m) => runs.add(m.headers?.get('Nats-Msg-Id') ?? '') });
  return runs;
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
  if (!['nats', 'nats-clients', 'scheduler', 'standby', 'engine'].includes(o.target)) {
    throw new ConfigError(`--target ${String(o.target)}: expected nats, nats-clients, scheduler, standby or engine`);
  }
  const runs: ChaosRun[] = [];
  const clientsNode = o.target === 'nats-clients';
  for (let r = 0; r < o.repeats; r++) {
    if (o.target !== 'nats' && !clientsNode) {
      runs.push(await processChaos(o, r));
      continue;
    }
    const cluster = await startNatsCluster({ binary: ensureNatsServer(o.log) });
    const servers = cluster.urls[0] as string;
    let scheduler: RunningScheduler | null = null;
    const engines: RunningEngine[] = [];
    let client: AutellixClient | null = null;
    let observer: NatsConnection | null = null;
    try {
      observer = await connect({ servers });
      const outcomes = observeOutcomes(observer);
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
      let drops = 0;
      // The programs connect to n0 with the services, or (nats-clients) to n2 alone.
      client = await AutellixClient.connect({
        servers: clientsNode ? (cluster.urls[2] as string) : servers,
        onError: (e, ctx) => (ctx.startsWith('dropped message') && String(e).endsWith('call.result') ? drops++ : undefined),
      });
      const jsm = await jetstreamManager(admin);
      const avoid = clientsNode ? ['n0', 'n2'] : ['n0'];
      for (const name of [intakeStreamName(), `KV_${processTableBucket()}`, resultsStreamName()]) {
        for (let i = 0; i < 20 && avoid.includes((await jsm.streams.info(name)).cluster?.leader ?? ''); i++) {
          await admin.request(`$JS.API.STREAM.LEADER.STEPDOWN.${name}`, undefined, { timeout: 5000 }).catch(() => undefined);
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      await new Promise((res) => setTimeout(res, 800)); // heartbeats
      const t0 = performance.now();
      const w = workload(client, o, `chaos-${r}`, t0);
      await new Promise((res) => setTimeout(res, o.killAfterMs));
      const leader = clientsNode ? 'n2' : ((await jsm.streams.info(intakeStreamName())).cluster?.leader ?? 'n1');
      await admin.close();
      const killedAt = performance.now() - t0;
      cluster.nodes[Number(leader.slice(1))]?.kill();
      await w.done;
      const { failures } = w;
      const wall = (performance.now() - t0) / 1000;
      const gap = longestGap(w.completions, killedAt);
      const submitted = o.programs * o.calls;
      await observer.flush();
      const row: ChaosRun = {
        killed: leader,
        killedAtMs: killedAt,
        programsFailed: failures.length,
        failures: failures.slice(0, 5),
        callsSubmitted: submitted,
        callsRunTwice: outcomes.runTwice,
        callsWithOutcome: outcomes.callCount,
        recoveryMs: gap,
        inFlightRecoveryMs: inFlightRecovery(w.spans, killedAt),
        repliesAfterSettle: drops,
        takeoverMs: null,
        wallSeconds: wall,
      };
      runs.push(row);
      o.log(
        `run ${r + 1}: killed ${leader} at ${(killedAt / 1000).toFixed(2)} s; ${row.programsFailed} programs failed, ${row.callsRunTwice} of ${row.callsWithOutcome} calls run twice, ${drops} second results, no completion for ${gap.toFixed(0)} ms, calls in flight done ${row.inFlightRecoveryMs.toFixed(0)} ms after the kill`,
      );
    } finally {
      await client?.close();
      await observer?.close();
      for (const e of engines) await e.stop();
      await scheduler?.stop();
      await cluster.stop();
    }
  }
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'chaos.json'), `${JSON.stringify({ programs: o.programs, calls: o.calls, runs }, null, 2)}\n`);
  return runs;
}

/** Runs `programs` chains of `calls` calls from `i * 12` ms on; completion times (ms since `t0`) and failure messages. */
function workload(client: AutellixClient, o: ChaosBenchOptions, tag: string, t0: number): { done: Promise<void>; completions: number[]; spans: [number, number][]; failures: string[] } {
  const completions: number[] = [];
  const spans: [number, number][] = [];
  const failures: string[] = [];
  const done = Promise.all(
    Array.from({ length: o.programs }, async (_, i) => {
      await new Promise((res) => setTimeout(res, i * 12));
      try {
        const s = await client.openSession({ sessionId: `${tag}-${i}`, timeoutMs: 30_000 });
        let parent: string | null = null;
        for (let j = 0; j < o.calls; j++) {
          const callId = `c${j}`;
          const submitted = performance.now() - t0;
          await s.call({ promptTokens: 64, maxTokens: 20, callId, stream: false, timeoutMs: 60_000, ...(parent === null ? {} : { parents: [parent] }) }).result;
          const at = performance.now() - t0;
          completions.push(at);
          spans.push([submitted, at]);
          parent = callId;
        }
        await s.close({ timeoutMs: 30_000 });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }),
  ).then(() => undefined);
  return { done, completions, spans, failures };
}

/** For calls submitted before `at` and completed after it, the longest time from `at` to completion (ms). */
function inFlightRecovery(spans: readonly [number, number][], at: number): number {
  let worst = 0;
  for (const [from, to] of spans) if (from < at && to >= at) worst = Math.max(worst, to - at);
  return worst;
}

/** Longest stretch without a completion from `from` on (ms). */
function longestGap(completions: readonly number[], from: number): number {
  const after = completions.filter((t) => t >= from).sort((a, b) => a - b);
  let gap = (after[0] ?? from) - from;
  for (let i = 1; i < after.length; i++) gap = Math.max(gap, (after[i] as number) - (after[i - 1] as number));
  return gap;
}

/**
 * Kill -9 of the scheduler (restarted at once on the same stream and table), of the active one
 * of two schedulers with a leadership lease (the standby takes over), or of one of two engines
 * (its calls are placed again on the other), each a process of its own on one nats-server,
 * mid-run.
 */
async function processChaos(o: ChaosBenchOptions, r: number): Promise<ChaosRun> {
  const server = await startNatsServer({ binary: ensureNatsServer(o.log) });
  const procs: ServiceProcess[] = [];
  const schedulerArgs = ['--nats', server.url, '--policy', 'plas', '--metrics-port', '0'];
  if (o.target === 'standby') schedulerArgs.push('--lease-ms', String(CHAOS_LEASE_MS));
  const spawnScheduler = (): ServiceProcess => spawnService({ script: SCHEDULER_MAIN, args: schedulerArgs, readyPattern: /serving on/ });
  let client: AutellixClient | null = null;
  const observer = await connect({ servers: server.url });
  const outcomes = observeOutcomes(observer);
  try {
    let scheduler = spawnScheduler();
    procs.push(scheduler);
    await scheduler.ready;
    let standby: ServiceProcess | null = null;
    if (o.target === 'standby') {
      standby = spawnScheduler();
      procs.push(standby);
      for (let i = 0; i < 100 && !standby.lines.some((l) => /standing by/.test(l)); i++) await new Promise((res) => setTimeout(res, 50));
    }
    const engines = ['engine-0', 'engine-1'].map((id) =>
      spawnService({ script: ENGINE_MAIN, args: ['--nats', server.url, '--id', id, '--speed', '40', '--metrics-port', 'off'], readyPattern: /serving on/ }),
    );
    procs.push(...engines);
    await Promise.all(engines.map((e) => e.ready));
    await new Promise((res) => setTimeout(res, 800));
    let drops = 0;
    client = await AutellixClient.connect({ servers: server.url, onError: (e, ctx) => (ctx.startsWith('dropped message') && String(e).endsWith('call.result') ? drops++ : undefined) });
    const t0 = performance.now();
    const w = workload(client, o, `chaos-${o.target}-${r}`, t0);
    await new Promise((res) => setTimeout(res, o.killAfterMs));
    const killedAt = performance.now() - t0;
    let killed: string;
    let takeoverMs: number | null = null;
    if (o.target === 'standby' && standby !== null) {
      const at = performance.now();
      await scheduler.kill();
      await standby.ready;
      takeoverMs = performance.now() - at;
      killed = 'active scheduler (standby took over)';
    } else if (o.target === 'scheduler') {
      await scheduler.kill();
      scheduler = spawnScheduler();
      procs.push(scheduler);
      await scheduler.ready;
      killed = 'scheduler (restarted)';
    } else {
      await (engines[1] as ServiceProcess).kill();
      killed = 'engine-1';
    }
    await w.done;
    await observer.flush();
    const row: ChaosRun = {
      killed,
      killedAtMs: killedAt,
      programsFailed: w.failures.length,
      failures: w.failures.slice(0, 5),
      callsSubmitted: o.programs * o.calls,
      callsRunTwice: outcomes.runTwice,
      callsWithOutcome: outcomes.callCount,
      recoveryMs: longestGap(w.completions, killedAt),
      inFlightRecoveryMs: inFlightRecovery(w.spans, killedAt),
      repliesAfterSettle: drops,
      takeoverMs,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    o.log(
      `run ${r + 1}: killed ${killed} at ${(killedAt / 1000).toFixed(2)} s; ${row.programsFailed} programs failed, ${row.callsRunTwice} of ${row.callsWithOutcome} calls run twice, ${drops} second results, no completion for ${row.recoveryMs.toFixed(0)} ms, calls in flight done ${row.inFlightRecoveryMs.toFixed(0)} ms after the kill${takeoverMs === null ? '' : `, standby serving ${takeoverMs.toFixed(0)} ms after it`}`,
    );
    return row;
  } finally {
    await client?.close();
    await observer.close();
    for (const p of procs.reverse()) await p.stop();
    await server.stop();
  }
}
