import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import { ConfigError } from '@autellix/core';
import type { Summary } from '@autellix/sim';
import { summarize } from '@autellix/sim';
import { startLocalStack } from './local-stack.ts';
import { startProcessStack } from './process-stack.ts';
import type { CallStamps, HopSplit } from './call-stamps.ts';
import { splitOf, stampsOf, submitToEngineMs } from './call-stamps.ts';
import { measureTransportFloor } from './transport-floor.ts';

/** Where the services run: all in this process (`one`), or each in its own (`processes`). */
export type OverheadLayout = 'one' | 'processes';

export interface OverheadBenchOptions {
  /** Measured calls per layout, one after another on one session. */
  readonly calls: number;
  /**
   * Calls run first and not counted in the measured figures: connections, code paths and the
   * JIT warmed up. V8 keeps optimising the services' per-call code for the first few thousand
   * calls (on this host about 125 optimising compiles per 2000 calls after 200 warm-up calls,
   * about 20 after 3000), and those compiles run on the same two cores as the path measured;
   * the default (3000) measures the steady state of a running service. Their own overhead is
   * reported apart (`OverheadRow.warmupMs`).
   */
  readonly warmup: number;
  /** Wall ms between a call's result and the next submit (0: back to back). */
  readonly gapMs: number;
  readonly layouts: readonly OverheadLayout[];
  readonly out: string;
  readonly log: (line: string) => void;
}

export interface OverheadRow {
  readonly layout: OverheadLayout;
  readonly gapMs: number;
  readonly calls: number;
  /** Client submit to the engine's receipt of the assignment, ms (same machine clock). */
  readonly overheadMs: Summary;
  /**
   * The same path in its two parts, ms: submit to the scheduler's assignment (`toSchedulerMs`:
   * the client's work, the hop into the scheduler and its decision) and the assignment to the
   * engine's receipt (`toEngineMs`: the second hop), from the assignment's `sentAtMs`. Null when
   * some call's result did not carry it.
   */
  readonly split: HopSplit | null;
  /** The same measure over the warm-up calls (a fresh deployment's first calls), ms; null with no warm-up. */
  readonly warmupMs: Summary | null;
}

/** The same calls' path with nothing of ours on it: two bare core-NATS hops (`transport-floor.ts`). */
export interface TransportFloorRow {
  readonly gapMs: number;
  readonly calls: number;
  /** Send to receipt across the two hops, ms. */
  readonly roundTripMs: Summary;
}

export interface OverheadBenchReport {
  readonly bench: 'overhead';
  readonly calls: number;
  readonly warmup: number;
  readonly rows: readonly OverheadRow[];
  /** Measured in the same run, before the layouts, with the same calls, warm-up and gap. */
  readonly floor: TransportFloorRow;
}

/** Engine speed: a call of 8 tokens is over in well under a millisecond, so calls never queue. */
const ENGINE_SPEED = 1000;

/**
 * Control-plane overhead per call on an otherwise idle system: one program submits calls one
 * after another (64 prompt tokens, 8 output tokens) to a fresh deployment with one `sim` engine,
 * and each call's time from the client's submit to the engine's receipt of its assignment is
 * taken (`submittedAtMs` against `timings.receivedAtMs`). Nothing else runs, so no call waits for
 * an engine place: the figure is intake, the scheduler's decision and two NATS hops.
 */
export async function runOverheadBench(o: OverheadBenchOptions): Promise<OverheadBenchReport> {
  for (const [k, v, min] of [['calls', o.calls, 1], ['warmup', o.warmup, 0]] as const) {
    if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`--${k} ${v}: expected an integer >= ${min}`);
  }
  if (!(o.gapMs >= 0 && Number.isFinite(o.gapMs))) throw new ConfigError(`--gap-ms ${o.gapMs}: expected a number >= 0`);
  if (o.layouts.length === 0) throw new ConfigError('--layouts: name at least one of one, processes');
  o.log(`transport floor: two bare NATS hops, ${o.warmup} warm-up round trips, then ${o.calls} measured`);
  const floorMs = await measureTransportFloor(o);
  const floor: TransportFloorRow = { gapMs: o.gapMs, calls: floorMs.length, roundTripMs: summarize(floorMs) };
  const rows: OverheadRow[] = [];
  for (const layout of o.layouts) {
    o.log(`${layout}: ${o.warmup} warm-up calls, then ${o.calls} measured${o.gapMs > 0 ? `, ${o.gapMs} ms apart` : ', back to back'}`);
    const { warmup, measured } = await measure(layout, o);
    rows.push({
      layout,
      gapMs: o.gapMs,
      calls: measured.length,
      overheadMs: summarize(measured.map(submitToEngineMs)),
      split: splitOf(measured),
      warmupMs: warmup.length === 0 ? null : summarize(warmup.map(submitToEngineMs)),
    });
  }
  const report: OverheadBenchReport = { bench: 'overhead', calls: o.calls, warmup: o.warmup, rows, floor };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, 'overhead.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** One fresh deployment's calls, the warm-up ones and the measured ones apart. */
async function measure(layout: OverheadLayout, o: OverheadBenchOptions): Promise<{ warmup: CallStamps[]; measured: CallStamps[] }> {
  const common = { engines: 1, speed: ENGINE_SPEED, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} };
  const stack =
    layout === 'one' ? await startLocalStack({ ...common, port: -1, gateway: null, metrics: null }) : await startProcessStack(common);
  try {
    await new Promise((r) => setTimeout(r, 600)); // the engine's first heartbeat
    const client = await AutellixClient.connect({ servers: stack.url });
    try {
      const session = await client.openSession({ sessionId: `overhead-${layout}` });
      const warmup: CallStamps[] = [];
      const measured: CallStamps[] = [];
      for (let i = 0; i < o.warmup + o.calls; i++) {
        const r = await session.call({ promptTokens: 64, maxTokens: 8, stream: false }).result;
        const stamps = stampsOf(r);
        if (stamps === null) throw new Error(`call ${r.callId}: the engine reported no receipt time`);
        (i < o.warmup ? warmup : measured).push(stamps);
        if (o.gapMs > 0) await new Promise((res) => setTimeout(res, o.gapMs));
      }
      await session.close();
      return { warmup, measured };
    } finally {
      await client.close();
    }
  } finally {
    await stack.stop();
  }
}

/** The report as a table: one row per layout, then the transport floor's row. */
export function overheadBenchTable(report: Pick<OverheadBenchReport, 'rows' | 'floor'>): string {
  const head = ['layout', 'gap ms', 'calls', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', 'to scheduler p50/p99', 'to engine p50/p99', 'warm-up calls p50/p99'];
  const pair = (s: Summary | undefined): string => (s === undefined ? '-' : `${s.p50.toFixed(2)}/${s.p99.toFixed(2)}`);
  const cells = (label: string, gapMs: number, calls: number, s: Summary, split: OverheadRow['split'], warmup: Summary | null): string[] => [
    label,
    String(gapMs),
    String(calls),
    ...[s.mean, s.p50, s.p95, s.p99].map((v) => v.toFixed(2)),
    pair(split?.toSchedulerMs),
    pair(split?.toEngineMs),
    pair(warmup ?? undefined),
  ];
  const body = [
    ...report.rows.map((r) => cells(r.layout, r.gapMs, r.calls, r.overheadMs, r.split, r.warmupMs)),
    cells('floor: two bare NATS hops', report.floor.gapMs, report.floor.calls, report.floor.roundTripMs, null, null),
  ];
  return [head, ...body].map((cols) => `| ${cols.join(' | ')} |`).join('\n');
}
