import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BalancerName, PolicyName, SchedulerConfig } from '@autellix/core';
import type { EngineOptions } from '@autellix/engine-model';

/** Tag of the report format; bump when a field changes meaning. */
export const REPORT_SCHEMA = 'autellix.bench.sweep.v1' as const;

/** One simulation run of a curve at one arrival rate. Times in seconds, token latency in s/token. */
export interface SweepPoint {
  /** Arrival rate, programs/s (for a trace replayed as recorded: its own mean rate). */
  readonly rate: number;
  /** Programs measured (arrived after warm-up and completed). */
  readonly programs: number;
  /** NaN when no program was measured. */
  readonly meanTokenLatency: number;
  readonly p95TokenLatency: number;
  readonly p99TokenLatency: number;
  readonly meanProgramLatency: number;
  /** True when the run never reached a steady state: its latency must not be read. */
  readonly overloaded: boolean;
  /** Measured programs still unfinished at the horizon. */
  readonly unfinished: number;
  /** Busy time / (engines x makespan). */
  readonly utilisation: number;
  readonly preemptions: number;
  readonly starvationPromotions: number;
  readonly prefixHitRate: number;
  /** Mean per measured program of the time its calls spent queued, running and swapping. */
  readonly wait: number;
  readonly execution: number;
  readonly swap: number;
}

/** One (policy, balancer) pair swept over the rates, points in ascending rate. */
export interface Curve {
  readonly policy: PolicyName;
  readonly balancer: BalancerName;
  readonly points: readonly SweepPoint[];
}

/** One run of the capacity search (fcfs). */
export interface CapacityProbe {
  readonly rate: number;
  readonly overloaded: boolean;
  readonly meanTokenLatency: number;
}

/** The fcfs capacity estimate: the highest probed rate that was not overloaded. */
export interface CapacityEstimate {
  readonly rate: number;
  /** Programs/s (in generated tokens) sustained when every program arrives at once: the start of the search. */
  readonly saturatedThroughput: number;
  /** Every probe in the order it was run (the saturation probe not included). */
  readonly probes: readonly CapacityProbe[];
  readonly rule: string;
}

/** The unloaded reference run behind a derived SLO. */
export interface UnloadedRun {
  readonly rate: number;
  readonly meanTokenLatency: number;
}

/**
 * Everything a sweep measured, and every input that determines it. Contains no wall-clock
 * time, date, host or duration: the same inputs give the same bytes (see `reportJson`).
 */
export interface SweepReport {
  readonly schema: typeof REPORT_SCHEMA;
  /** Workload name, or `trace:<file name>`. */
  readonly workload: string;
  readonly profile: string;
  readonly engines: number;
  readonly seed: number;
  /** Programs per run (after any truncation of a trace). */
  readonly programs: number;
  /** How the rates were chosen: `auto`, `list`, or `trace` (the trace's own arrival times). */
  readonly rateMode: 'auto' | 'list' | 'trace';
  /** SLO on mean token latency, seconds per token. */
  readonly slo: number;
  readonly sloRule: string;
  readonly warmupRule: string;
  readonly horizonRule: string;
  readonly maxRateRule: string;
  /** Null when no capacity search was needed (explicit rates and a given SLO). */
  readonly capacity: CapacityEstimate | null;
  /** Null when the SLO was given. */
  readonly unloaded: UnloadedRun | null;
  readonly engine: EngineOptions;
  readonly scheduler: SchedulerConfig;
  readonly curves: readonly Curve[];
  /** Key `policy` when one balancer was swept, else `policy/balancer`; in curve order. */
  readonly maxRateAtSlo: Readonly<Record<string, number>>;
  /** maxRateAtSlo / that of fcfs with the same balancer; null when fcfs reached 0. Empty without fcfs. */
  readonly ratios: Readonly<Record<string, number | null>>;
  /** Keys whose maxRateAtSlo is only a lower bound (the highest rate swept still met the SLO). */
  readonly lowerBounds: readonly string[];
  /** Human-readable remarks (lower bounds, non-monotone curves, overloaded points). */
  readonly notes: readonly string[];
}

/** Rounds to 6 significant digits; integers and non-finite values pass unchanged. */
export function round6(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(6));
}

/**
 * Canonical JSON of any plain value: numbers through `round6`, NaN as null, +-Infinity as the
 * strings "Infinity" / "-Infinity" (JSON has neither), keys in insertion order, 2-space indent,
 * trailing newline. Equal values built in the same order give equal bytes.
 */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== 'number') return v;
      if (Number.isNaN(v)) return null;
      if (v === Number.POSITIVE_INFINITY) return 'Infinity';
      if (v === Number.NEGATIVE_INFINITY) return '-Infinity';
      return round6(v);
    },
    2,
  )}\n`;
}

/** The bytes `writeReport` puts in report.json. */
export function reportJson(report: SweepReport): string {
  return canonicalJson(report);
}

/** Creates `dir` if needed and writes `dir/report.json`; returns the path written. */
export function writeReport(dir: string, report: SweepReport): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'report.json');
  writeFileSync(path, reportJson(report));
  return path;
}

/** Non-deterministic facts about one run (wall time, host, versions), kept out of report.json. */
export interface RunInfo {
  readonly command: readonly string[];
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly node: string;
  readonly platform: string;
  readonly simulations: number;
}

/** Writes `dir/run-info.json`; returns the path written. */
export function writeRunInfo(dir: string, info: RunInfo): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'run-info.json');
  writeFileSync(path, `${JSON.stringify(info, null, 2)}\n`);
  return path;
}
