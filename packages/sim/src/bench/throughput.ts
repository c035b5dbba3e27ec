import { DEFAULT_SCHEDULER_CONFIG } from '@autellix/core';
import { DEFAULT_ENGINE_OPTIONS } from '@autellix/engine-model';
import { simulate } from '../simulate.ts';
import { generatePrograms } from '../workload/index.ts';

/** One measured scenario of the simulator-speed benchmark. */
export interface ThroughputRow {
  readonly scenario: string;
  readonly policy: string;
  /** True when runs of identical decode steps were simulated as one event. */
  readonly decodeRuns: boolean;
  readonly programs: number;
  /** Modelled engine steps. */
  readonly steps: number;
  readonly virtualSeconds: number;
  readonly wallSeconds: number;
  readonly stepsPerSecond: number;
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

/**
 * Measures how many modelled engine steps the simulator runs per second of wall time, for a few
 * scenarios, with and without decode runs. `clock` returns milliseconds (performance.now in the
 * CLI); it is passed in so this module reads no clock of its own. One short run of each policy
 * comes first and is discarded, so the figures are of JIT-compiled code, as in a long sweep.
 */
export function measureThroughput(clock: () => number, quick: boolean): ThroughputRow[] {
  const rows: ThroughputRow[] = [];
  const warm = generatePrograms('mixed', { seed: 2, count: 60, rate: 0.17 });
  for (const policy of ['fcfs', 'plas'] as const) {
    simulate({
      programs: warm,
      engines: 1,
      profile: 'llama3.1-8b-a100',
      policy,
      balancer: 'autellix',
      scheduler: DEFAULT_SCHEDULER_CONFIG,
      engine: DEFAULT_ENGINE_OPTIONS,
      warmup: 0,
      horizon: null,
    });
  }
  for (const s of SCENARIOS) {
    const count = quick ? Math.ceil(s.count / 3) : s.count;
    const programs = generatePrograms(s.workload, { seed: 1, count, rate: s.rate });
    for (const policy of ['fcfs', 'plas'] as const) {
      for (const decodeRuns of [true, false]) {
        const t0 = clock();
        const r = simulate({
          programs,
          engines: 1,
          profile: 'llama3.1-8b-a100',
          policy,
          balancer: 'autellix',
          scheduler: DEFAULT_SCHEDULER_CONFIG,
          engine: { ...DEFAULT_ENGINE_OPTIONS, macroSteps: decodeRuns },
          warmup: 0,
          horizon: null,
        });
        const wall = (clock() - t0) / 1000;
        rows.push({
          scenario: s.name,
          policy,
          decodeRuns,
          programs: count,
          steps: r.metrics.steps,
          virtualSeconds: r.metrics.makespan,
          wallSeconds: wall,
          stepsPerSecond: r.metrics.steps / Math.max(wall, 1e-9),
        });
      }
    }
  }
  return rows;
}

/** The rows as an aligned text table. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  const head = ['scenario', 'policy', 'decode runs', 'programs', 'steps', 'virtual s', 'wall s', 'steps/s'];
  const body = rows.map((r) => [
    r.scenario,
    r.policy,
    r.decodeRuns ? 'on' : 'off',
    String(r.programs),
    String(r.steps),
    r.virtualSeconds.toFixed(0),
    r.wallSeconds.toFixed(2),
    Math.round(r.stepsPerSecond).toLocaleString('en-US'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
