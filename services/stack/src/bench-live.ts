import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import type { PolicyName } from '@autellix/core';
import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import type { ProgramOutcome, ProgramSpec, Summary } from '@autellix/sim';
import { generatePrograms, simulate, summarize } from '@autellix/sim';
import { SimBackend } from '@autellix/engine';
import type { HopSplit } from './call-stamps.ts';
import { splitOf, submitToEngineMs } from './call-stamps.ts';
import { startLocalStack } from './local-stack.ts';
import { startProcessStack } from './process-stack.ts';
import { schedulerCounters } from './scheduler-counters.ts';
import type { ReplayedProgram } from './replay.ts';
import { endProgressLine, progressLine, replay } from './replay.ts';

export interface LiveBenchOptions {
  readonly workload: string;
  readonly programs: number;
  /** Arrivals per modelled second. */
  readonly rate: number;
  readonly engines: number;
  readonly speed: number;
  readonly policies: readonly string[];
  readonly seed: number;
  readonly profile: string;
  readonly out: string;
  /** `processes`: scheduler and each engine in its own process (as deployed); `one`: all in this process. */
  readonly layout: 'processes' | 'one';
  readonly log: (line: string) => void;
}

/** One policy's figures, live and simulated, on the same trace. */
export interface LiveBenchRow {
  readonly policy: string;
  readonly sim: { readonly programLatency: Summary; readonly preemptions: number };
  readonly live: {
    readonly programLatency: Summary;
    readonly preemptions: number;
    readonly failed: number;
    /** Per-call control-plane overhead (ms): receipt minus submit of `ReplayedProgram.stamps`. */
    readonly overheadMs: Summary;
    /** The same in its two hops (`splitOf`); null when some call lacked the scheduler's stamp. */
    readonly overheadSplit: HopSplit | null;
    readonly wallSeconds: number;
    /**
     * Modelled seconds the engines skipped as idle because the host fell behind (`--layout one`
     * only; null when the engines run in other processes). Non-zero means the figures include
     * host slowness.
     */
    readonly skippedSeconds: number | null;
    /**
     * Calls the scheduler placed again (`reassignments`: an engine went silent, or a call was
     * missing from its engine's heartbeats for twice `missingGraceMs`) and intake messages the
     * stream delivered more than once (`redeliveries`), from its status at the end of the run.
     * Each is a stall of seconds for its program that the simulator has no counterpart for.
     */
    readonly reassignments: number;
    readonly redeliveries: number;
  };
  /** live / sim. */
  readonly meanRatio: number;
  readonly p95Ratio: number;
  /**
   * A diagnostic, not the comparison the target is read from: the simulator again with this
   * run's own measured time outside the engines per call (`SimConfig.callOverhead`: the control
   * plane and the replay's lateness), so what is left between it and the live figures is not
   * the hops, the services' own work or the harness. Null when no call reported its accounts.
   */
  readonly withTimeOutside: {
    /** Mean per call, modelled seconds: the call's latency at the client minus its time at the engine, times `speed`. */
    readonly controlPlane: number;
    /** Mean per call, modelled seconds: the replay's own lateness (`ReplayedProgram.lateness`). */
    readonly harnessLateness: number;
    /** What the simulator was given (`SimConfig.callOverhead`): the two above added. */
    readonly callOverhead: number;
    readonly programLatency: Summary;
    /** live / this simulation. */
    readonly meanRatio: number;
    readonly p95Ratio: number;
  } | null;
  /**
   * A second diagnostic: how far the simulator's own figures move when every call is delayed by
   * a sliver of time (`SIM_SPREAD_OVERHEADS`, 0.25-2 ms of modelled time, at 20x far below any
   * real hop), as ratios to the unperturbed run. Timing changes which calls share a
   * batch and where programs are placed, so a tail statistic over a few programs (P95 of 200 is
   * the 10th slowest) moves with it; the live system's figures cannot be expected to agree with
   * the simulator more closely than the simulator agrees with itself.
   */
  readonly simSpread: { readonly meanRatio: Range; readonly p95Ratio: Range };
  /**
   * Every program's latency (modelled seconds), simulated and live, in trace order, to see which
   * programs make a difference; `live` is null for a program that failed live.
   */
  readonly programs: readonly ProgramLatencyPair[];
}

/** Smallest and largest of a set of figures. */
export interface Range {
  readonly min: number;
  readonly max: number;
}

/**
 * The time per call (modelled seconds) given to the simulator to see its own spread: 0.25 to 2
 * ms, at 20x 12 to 100 µs of wall time, a small part of one NATS hop on any host.
 */
export const SIM_SPREAD_OVERHEADS: readonly number[] = [0.00025, 0.0005, 0.00075, 0.001, 0.00125, 0.0015, 0.00175, 0.002];

/** The range of `figures`' mean and P95 as ratios to `base`'s. */
export function spreadOf(base: Summary, figures: readonly Summary[]): { meanRatio: Range; p95Ratio: Range } {
  const range = (xs: number[]): Range => ({ min: Math.min(...xs), max: Math.max(...xs) });
  return { meanRatio: range(figures.map((f) => f.mean / base.mean)), p95Ratio: range(figures.map((f) => f.p95 / base.p95)) };
}

/** One program of the trace: its latency simulated and live (modelled seconds). */
export interface ProgramLatencyPair {
  readonly id: string;
  readonly kind: string;
  readonly sim: number;
  readonly live: number | null;
}

/**
 * Pairs each simulated program with its live run by id, in the simulator's order. A program the
 * simulator did not finish has latency NaN (never in a finite trace run to the end); one that
 * failed or is missing live has `live` null.
 */
export function pairLatencies(sim: readonly ProgramOutcome[], live: readonly ReplayedProgram[]): ProgramLatencyPair[] {
  const byId = new Map(live.map((p) => [p.id, p]));
  return sim.map((p) => {
    const l = byId.get(p.id);
    return { id: p.id, kind: p.kind, sim: p.completion - p.arrival, live: l === undefined || l.error !== null ? null : l.completion - l.arrival };
  });
}

/**
 * Mean time per call a replay spent outside the engines, in modelled seconds, over the calls of
 * the programs that completed and report their accounts: the control plane
 * (`ReplayedProgram.accounts`'s `outside`) and the replay's own lateness
 * (`ReplayedProgram.lateness`). Null when no program reports its accounts.
 */
export function outsidePerCall(programs: readonly ReplayedProgram[]): { controlPlane: number; harnessLateness: number } | null {
  let outside = 0;
  let late = 0;
  let calls = 0;
  for (const p of programs) {
    if (p.error !== null || p.accounts === null) continue;
    outside += p.accounts.outside;
    late += p.lateness;
    calls += p.calls;
  }
  return calls === 0 ? null : { controlPlane: outside / calls, harnessLateness: late / calls };
}

/**
 * Replays one generated trace through the live system (a fresh local stack per policy: NATS,
 * scheduler, `engines` sim engines at `speed`) and through the simulator with the same engine
 * configuration, and reports program latency (modelled seconds) of both.
 */
export async function runLiveBench(o: LiveBenchOptions): Promise<LiveBenchRow[]> {
  const programs: ProgramSpec[] = generatePrograms(o.workload, { seed: o.seed, count: o.programs, rate: o.rate });
  const rows: LiveBenchRow[] = [];
  for (const policy of o.policies) {
    const simulateWith = (callOverhead: number) =>
      simulate({
        programs,
        engines: o.engines,
        profile: o.profile,
        policy: policy as PolicyName,
        balancer: 'autellix',
        scheduler: DEFAULT_SCHEDULER_CONFIG,
        engine: DEFAULT_ENGINE_OPTIONS,
        warmup: 0,
        horizon: null,
        callOverhead,
      });
    const sim = simulateWith(0);
    const settings = { engines: o.engines, speed: o.speed, policy, balancer: 'autellix', profile: o.profile, log: () => {} };
    const local = o.layout === 'one' ? await startLocalStack({ ...settings, port: -1 }) : null;
    const stack = local ?? (await startProcessStack(settings));
    // Engines announce themselves by heartbeat (every 250 ms).
    await new Promise((r) => setTimeout(r, 600));
    const client = await AutellixClient.connect({ servers: stack.url });
    const t0 = performance.now();
    const out = await replay({
      client,
      programs,
      speed: o.speed,
      clock: () => performance.now(),
      runTag: `bench-${policy}`,
      onProgress: progressLine(policy, () => performance.now()),
    });
    endProgressLine();
    const wallSeconds = (performance.now() - t0) / 1000;
    let skippedSeconds: number | null = null;
    if (local !== null) {
      skippedSeconds = 0;
      for (const e of local.engines) {
        const b = e.actor.backendOrNull;
        if (b instanceof SimBackend) skippedSeconds += b.skippedSeconds;
      }
    }
    const counters = await schedulerCounters(stack.url);
    await client.close();
    await stack.stop();
    const ok = out.filter((p) => p.error === null);
    const latency = summarize(ok.map((p) => p.completion - p.arrival));
    const simLatency = sim.metrics.programLatency;
    const outside = outsidePerCall(ok);
    let withTimeOutside: LiveBenchRow['withTimeOutside'] = null;
    if (outside !== null) {
      const callOverhead = outside.controlPlane + outside.harnessLateness;
      const given = simulateWith(callOverhead).metrics.programLatency;
      withTimeOutside = { ...outside, callOverhead, programLatency: given, meanRatio: latency.mean / given.mean, p95Ratio: latency.p95 / given.p95 };
    }
    rows.push({
      policy,
      sim: { programLatency: simLatency, preemptions: sim.metrics.preemptions },
      live: {
        programLatency: latency,
        preemptions: ok.reduce((s, p) => s + p.preemptions, 0),
        failed: out.length - ok.length,
        overheadMs: summarize(ok.flatMap((p) => p.stamps.map(submitToEngineMs))),
        overheadSplit: splitOf(ok.flatMap((p) => p.stamps)),
        wallSeconds,
        skippedSeconds,
        reassignments: counters.reassignments ?? 0,
        redeliveries: counters.redeliveries ?? 0,
      },
      meanRatio: latency.mean / simLatency.mean,
      p95Ratio: latency.p95 / simLatency.p95,
      withTimeOutside,
      simSpread: spreadOf(
        simLatency,
        SIM_SPREAD_OVERHEADS.map((o) => simulateWith(o).metrics.programLatency),
      ),
      programs: pairLatencies(sim.programs, out),
    });
    o.log(
      `  ${policy}: live mean ${latency.mean.toFixed(1)} s vs sim ${simLatency.mean.toFixed(1)} s` +
        (withTimeOutside === null
          ? ''
          : ` (${withTimeOutside.programLatency.mean.toFixed(1)} s with ${withTimeOutside.callOverhead.toFixed(3)} s a call outside the engines)`),
    );
  }
  mkdirSync(o.out, { recursive: true });
  const report = {
    bench: 'live',
    workload: o.workload,
    programs: o.programs,
    rate: o.rate,
    engines: o.engines,
    speed: o.speed,
    layout: o.layout,
    seed: o.seed,
    profile: o.profile,
    rows,
  };
  writeFileSync(join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return rows;
}

/** The rows as an aligned table. */
export function liveBenchTable(rows: readonly LiveBenchRow[]): string {
  const head = [
    'policy',
    'sim mean s',
    'live mean s',
    'ratio',
    'sim p95 s',
    'live p95 s',
    'ratio',
    'preempt sim/live',
    'overhead p50/p99 ms',
    'to scheduler / to engine p99 ms',
    'skipped s',
    'failed',
    'reassigned/redelivered',
    'outside s/call (cp + late)',
    'ratio to sim+outside mean/p95',
    "sim's own spread mean/p95",
  ];
  const body = rows.map((r) => [
    r.policy,
    r.sim.programLatency.mean.toFixed(1),
    r.live.programLatency.mean.toFixed(1),
    r.meanRatio.toFixed(3),
    r.sim.programLatency.p95.toFixed(1),
    r.live.programLatency.p95.toFixed(1),
    r.p95Ratio.toFixed(3),
    `${r.sim.preemptions}/${r.live.preemptions}`,
    `${r.live.overheadMs.p50.toFixed(2)}/${r.live.overheadMs.p99.toFixed(2)}`,
    r.live.overheadSplit === null ? '-' : `${r.live.overheadSplit.toSchedulerMs.p99.toFixed(2)} / ${r.live.overheadSplit.toEngineMs.p99.toFixed(2)}`,
    r.live.skippedSeconds === null ? '-' : r.live.skippedSeconds.toFixed(1),
    String(r.live.failed),
    `${r.live.reassignments}/${r.live.redeliveries}`,
    r.withTimeOutside === null ? '-' : `${r.withTimeOutside.controlPlane.toFixed(3)} + ${r.withTimeOutside.harnessLateness.toFixed(3)}`,
    r.withTimeOutside === null ? '-' : `${r.withTimeOutside.meanRatio.toFixed(3)}/${r.withTimeOutside.p95Ratio.toFixed(3)}`,
    `${r.simSpread.meanRatio.min.toFixed(3)}-${r.simSpread.meanRatio.max.toFixed(3)}/${r.simSpread.p95Ratio.min.toFixed(3)}-${r.simSpread.p95Ratio.max.toFixed(3)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
