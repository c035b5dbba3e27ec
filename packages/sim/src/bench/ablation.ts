import type { PolicyName, SchedulerConfig } from '@autellix/core';
import type { EngineOptions } from '@autellix/engine-model';
import { getProfile, stepSeconds } from '@autellix/engine-model';
import type { Curve, SweepReport } from './report.ts';
import type { ProgramSource, SweepOptions, SweepProgress } from './sweep.ts';
import { runSweep } from './sweep.ts';

/** One engine effect removed (or none, the baseline). */
export interface AblationVariant {
  readonly name: string;
  readonly description: string;
  readonly engine: (base: EngineOptions, profile: string) => EngineOptions;
}

/** A unit decode step (batch 1, 1024 tokens of context): the fixed step time of the slot-model ablation. */
export function unitStepSeconds(profile: string): number {
  return stepSeconds(getProfile(profile), {
    decodeSeqs: 1,
    decodeContextTokens: 1024,
    prefillTokens: 0,
    prefillSeqs: 0,
    prefillAttentionPairs: 0,
  });
}

/** The baseline and the four ablations of issue 2: (a) swap cost, (b) KV memory, (c) prefix cache, (d) batch-dependent step time. */
export const ABLATION_VARIANTS: readonly AblationVariant[] = [
  { name: 'baseline', description: 'vLLM-opt engine as modelled', engine: (b) => b },
  {
    name: 'a: swap cost zeroed',
    description: 'swaps take no time',
    engine: (b) => ({ ...b, ablations: { ...b.ablations, zeroSwapCost: true } }),
  },
  {
    name: 'b: unbounded KV',
    description: 'KV memory never runs out',
    engine: (b) => ({ ...b, ablations: { ...b.ablations, unboundedKv: true } }),
  },
  { name: 'c: prefix cache off', description: 'every call prefills its whole prompt', engine: (b) => ({ ...b, prefixCache: false }) },
  {
    name: 'd: step time independent of batch',
    description: 'every step takes one batch-1 decode step (a slot model)',
    engine: (b, profile) => ({ ...b, ablations: { ...b.ablations, constantStepSeconds: unitStepSeconds(profile) } }),
  },
];

/** One variant's outcome. */
export interface AblationRow {
  readonly variant: string;
  readonly description: string;
  readonly slo: number;
  /** maxRateAtSlo per policy. */
  readonly maxRateAtSlo: Readonly<Record<string, number>>;
  /** Highest swept rate below the first overloaded point, per policy (0 when the first is overloaded). */
  readonly stableRate: Readonly<Record<string, number>>;
  /** maxRateAtSlo(policy) / maxRateAtSlo(fcfs), null when fcfs reached 0. */
  readonly ratioAtSlo: Readonly<Record<string, number | null>>;
}

/** What `runAblation` needs. */
export interface AblationOptions {
  readonly source: ProgramSource;
  readonly profile: string;
  readonly policies: readonly PolicyName[];
  readonly engine: EngineOptions;
  readonly scheduler: SchedulerConfig;
  readonly seed: number;
  readonly grid?: readonly number[];
}

/** Highest rate of a curve before its first overloaded point; 0 when the first point is overloaded. */
export function stableRate(curve: Curve): number {
  let best = 0;
  for (const p of curve.points) {
    if (p.overloaded) break;
    best = p.rate;
  }
  return best;
}

/**
 * Runs one sweep per variant (each with its own capacity search and derived SLO, so every
 * ratio compares policies on the same engine) and returns a row per variant.
 */
export function runAblation(options: AblationOptions, onProgress?: (variant: string, p: SweepProgress) => void): {
  rows: AblationRow[];
  reports: SweepReport[];
} {
  const rows: AblationRow[] = [];
  const reports: SweepReport[] = [];
  for (const v of ABLATION_VARIANTS) {
    const sweep: SweepOptions = {
      source: options.source,
      profile: options.profile,
      engines: 1,
      policies: options.policies,
      balancers: ['autellix'],
      rates: 'auto',
      slo: null,
      seed: options.seed,
      engine: v.engine(options.engine, options.profile),
      scheduler: options.scheduler,
      ...(options.grid === undefined ? {} : { grid: options.grid }),
    };
    const report = runSweep(sweep, (p) => onProgress?.(v.name, p));
    reports.push(report);
    const stable: Record<string, number> = {};
    for (const c of report.curves) stable[c.policy] = stableRate(c);
    rows.push({
      variant: v.name,
      description: v.description,
      slo: report.slo,
      maxRateAtSlo: report.maxRateAtSlo,
      stableRate: stable,
      ratioAtSlo: report.ratios,
    });
  }
  return { rows, reports };
}

/** The rows as an aligned text table: per policy, max rate at SLO, its ratio to fcfs, and the stable rate. */
export function ablationTable(rows: readonly AblationRow[], policies: readonly string[]): string {
  const head = ['variant', 'SLO s/tok', ...policies.flatMap((p) => [`${p} @SLO`, `${p}/fcfs`, `${p} stable`])];
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));
  const body = rows.map((r) => [
    r.variant,
    r.slo.toFixed(4),
    ...policies.flatMap((p) => [fmt(r.maxRateAtSlo[p]), fmt(r.ratioAtSlo[p]), fmt(r.stableRate[p])]),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
