import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import { simulate } from '../simulate.ts';
import type { SimConfig, SimResult } from '../sim-types.ts';
import { generatePrograms } from '../workload/index.ts';

/** One measured scenario of the simulator-speed benchmark. */
export interface ThroughputRow {
  readonly scenario: string;
  readonly policy: string;
  /** True when runs of steps were simulated as one event (`EngineOptions.macroSteps`). */
  readonly decodeRuns: boolean;
  readonly programs: number;
  /** Modelled engine steps of one run. */
  readonly steps: number;
  readonly virtualSeconds: number;
  /** Measured runs (after one discarded warm-up run of the same scenario). */
  readonly repeats: number;
  /** Wall seconds of the fastest run. */
  readonly wallSeconds: number;
  /** Steps per wall second: of the fastest run, and the median over the runs. */
  readonly stepsPerSecond: number;
  readonly medianStepsPerSecond: number;
}

/** A scenario: a workload at a rate, sized to run a few seconds of wall time. */
interface Scenario {
  readonly name: string;
  readonly workload: string;
  readonly count: number;
  readonly rate: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'sharegpt light (0.5/s)', workload: 'sharegpt', count: 1500, rate: 0.5 },
  { name: 'sharegpt near capacity (1.0/s)', workload: 'sharegpt', count: 1500, rate: 1.0 },
  { name: 'mixed at capacity (0.17/s)', workload: 'mixed', count: 600, rate: 0.17 },
  { name: 'mixed overloaded 1.5x (0.3/s)', workload: 'mixed', count: 300, rate: 0.3 },
];

/** Measured runs per row (after the warm-up run), full and quick. */
const REPEATS = 5;
const QUICK_REPEATS = 2;

/**
 * Measures how many modelled engine steps the simulator runs per second of wall time, for a few
 * scenarios, with and without runs of steps. Each row first runs its scenario once and discards
 * it, so the figures are of JIT-compiled code, as in a sweep of many runs; then it runs it
 * `REPEATS` times and reports the fastest run and the median. On a shared machine the fastest
 * run is the best estimate of what the code costs (other load only ever slows a run down); the
 * median shows the spread. `clock` returns milliseconds (performance.now in the CLI); it is
 * passed in so this module reads no clock of its own.
 */
export function measureThroughput(clock: () => number, quick: boolean): ThroughputRow[] {
  const rows: ThroughputRow[] = [];
  const repeats = quick ? QUICK_REPEATS : REPEATS;
  for (const s of SCENARIOS) {
    const count = quick ? Math.ceil(s.count / 3) : s.count;
    const programs = generatePrograms(s.workload, { seed: 1, count, rate: s.rate });
    for (const policy of ['fcfs', 'plas'] as const) {
      for (const decodeRuns of [true, false]) {
        const config: SimConfig = {
          programs,
          engines: 1,
          profile: 'llama3.1-8b-a100',
          policy,
          balancer: 'autellix',
          scheduler: DEFAULT_SCHEDULER_CONFIG,
          engine: { ...DEFAULT_ENGINE_OPTIONS, macroSteps: decodeRuns },
          warmup: 0,
          horizon: null,
        };
        simulate(config);
        const walls: number[] = [];
        let r: SimResult | null = null;
        for (let i = 0; i < repeats; i++) {
          const t0 = clock();
          r = simulate(config);
          walls.push(Math.max((clock() - t0) / 1000, 1e-9));
        }
        const result = r as SimResult;
        walls.sort((a, b) => a - b);
        const steps = result.metrics.steps;
        rows.push({
          scenario: s.name,
          policy,
          decodeRuns,
          programs: count,
          steps,
          virtualSeconds: result.metrics.makespan,
          repeats,
          wallSeconds: walls[0] as number,
          stepsPerSecond: steps / (walls[0] as number),
          medianStepsPerSecond: steps / (walls[Math.floor(walls.length / 2)] as number),
        });
      }
    }
  }
  return rows;
}

/** The rows as an aligned text table. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  const head = ['scenario', 'policy', 'runs of steps', 'programs', 'steps', 'virtual s', 'best wall s', 'steps/s (best)', 'steps/s (median)'];
  const body = rows.map((r) => [
    r.scenario,
    r.policy,
    r.decodeRuns ? 'on' : 'off',
    String(r.programs),
    String(r.steps),
    r.virtualSeconds.toFixed(0),
    r.wallSeconds.toFixed(2),
    Math.round(r.stepsPerSecond).toLocaleString('en-US'),
    Math.round(r.medianStepsPerSecond).toLocaleString('en-US'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
