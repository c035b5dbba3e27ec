import type { BalancerName, PolicyName, SchedulerConfig } from '@autellix/core';
import { ConfigError, CoreError, PolicyName as Policies } from '@autellix/core';
import type { EngineOptions } from '@autellix/engine-model';
import type { SimConfig, SimResult } from '../sim-types.ts';
import { simulate } from '../simulate.ts';
import { generatePrograms, rescaleArrivals } from '../workload/index.ts';
import type { ProgramSpec } from '../workload/types.ts';
import type { CapacityEstimate, CapacityProbe, Curve, SweepPoint, SweepReport, UnloadedRun } from './report.ts';
import { REPORT_SCHEMA } from './report.ts';

/** A sweep could not produce a reading (the capacity search found no stable rate, the unloaded run measured nothing). */
export class SweepError extends CoreError {
  constructor(message: string) {
    super('sweep_failed', message);
  }
}

// ---------------------------------------------------------------------------------------------
// Rules fixed in advance. Each is a constant so the report can quote it verbatim.
// ---------------------------------------------------------------------------------------------

/** Fraction of programs (the earliest arrivals) run but not measured. */
export const WARMUP_FRACTION = 0.1;
/** Seconds of virtual time added to twice the last arrival before a run is cut. */
export const HORIZON_SLACK_SECONDS = 600;
/** SLO = this factor x the unloaded system's mean token latency. */
export const SLO_FACTOR = 5;
/** The unloaded reference rate as a fraction of the estimated fcfs capacity. */
export const UNLOADED_FRACTION = 0.02;
/** Probes of the capacity search (the saturation probe not included), unless bracketing takes more. */
export const CAPACITY_RUNS = 6;
/** Bisection steps the capacity search makes after bracketing, whatever the budget. */
export const MIN_BISECTIONS = 2;
/** Most bracketing runs (doubling or halving) before the search gives up. */
const MAX_BRACKET_RUNS = 16;
/** Arrival rate of the saturation probe: every program arrives within a fraction of a second. */
const SATURATION_RATE = 1e6;

/** Multiples of the estimated capacity swept by `rates: 'auto'` (ascending). */
export const AUTO_GRID = [0.25, 0.5, 0.7, 0.85, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2, 2.5, 3, 4] as const;
/** A shorter grid for quick runs. */
export const QUICK_GRID = [0.5, 0.85, 1.0, 1.2, 1.5, 2, 3] as const;
/** An auto-rate curve stops after this many consecutive overloaded points. */
export const STOP_AFTER_OVERLOADED = 2;

export const WARMUP_RULE =
  'warm-up = arrival time of the program at index floor(0.1 x n) in arrival order: the first 10% of programs run but are not measured';
export const HORIZON_RULE =
  'horizon = 2 x last arrival + 600 s of virtual time; programs unfinished then are counted and the point is flagged overloaded';
export const MAX_RATE_RULE =
  'maxRateAtSlo = read from the lowest rate up to the first point that fails (mean token latency > SLO, no measured program, or overloaded); ' +
  'linear interpolation in rate by latency between the last passing point and that failing point, except that no latency is read from an overloaded point ' +
  '(then the last passing rate); 0 when the first point fails; the highest rate swept when none fails (a lower bound)';
export const CAPACITY_RULE =
  'capacity = highest rate at which fcfs is not overloaded: one saturation probe (all programs at once) gives throughput T ' +
  '(tokens generated / mean output tokens per program / makespan); ' +
  'from T, doubling or halving brackets the limit and geometric bisection refines it: 6 probes after the saturation probe, at least 2 of them bisections';

/** The SLO rule quoted in the report when the SLO was derived. */
export function derivedSloRule(): string {
  return `SLO = ${SLO_FACTOR} x the mean token latency of the unloaded system: the same programs under fcfs at ${UNLOADED_FRACTION} x the estimated fcfs capacity`;
}

/** The SLO rule quoted in the report when the user gave the SLO. */
export function givenSloRule(slo: number): string {
  return `SLO given by the user: ${slo} s/token`;
}

// ---------------------------------------------------------------------------------------------
// Program sources.
// ---------------------------------------------------------------------------------------------

/** Where a sweep's programs come from. The bodies must not depend on the rate. */
export interface ProgramSource {
  /** `workload` in the report: a workload name or `trace:<file>`. */
  readonly label: string;
  /** Programs per run. */
  readonly count: number;
  /** True when `programsAt(null)` (the source's own arrival times) is allowed. */
  readonly hasOwnArrivals: boolean;
  /** The programs with Poisson/rescaled arrivals at `rate` programs/s, or their own arrivals for null. */
  programsAt(rate: number | null): readonly ProgramSpec[];
}

/** `count` generated programs of workload `name` (Poisson arrivals; same bodies at every rate). */
export function workloadSource(name: string, seed: number, count: number): ProgramSource {
  return {
    label: name,
    count,
    hasOwnArrivals: false,
    programsAt(rate) {
      if (rate === null) throw new ConfigError(`workload ${name} has no arrival times of its own; give a rate`);
      return generatePrograms(name, { seed, count, rate });
    },
  };
}

/** A recorded trace: its own arrivals for null, else `rescaleArrivals` to the rate. */
export function traceSource(label: string, programs: readonly ProgramSpec[]): ProgramSource {
  return {
    label,
    count: programs.length,
    hasOwnArrivals: true,
    programsAt: (rate) => (rate === null ? programs : rescaleArrivals(programs, rate)),
  };
}

/** Mean arrival rate of programs: (n - 1) / (last - first arrival); 0 for fewer than two or a zero span. */
export function observedRate(programs: readonly ProgramSpec[]): number {
  if (programs.length < 2) return 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const p of programs) {
    first = Math.min(first, p.arrival);
    last = Math.max(last, p.arrival);
  }
  return last > first ? (programs.length - 1) / (last - first) : 0;
}

// ---------------------------------------------------------------------------------------------
// Run rules.
// ---------------------------------------------------------------------------------------------

/** Sorted arrival times. */
function arrivals(programs: readonly ProgramSpec[]): number[] {
  return programs.map((p) => p.arrival).sort((a, b) => a - b);
}

/** Warm-up time per `WARMUP_RULE`; 0 for no programs. */
export function warmupFor(programs: readonly ProgramSpec[]): number {
  const a = arrivals(programs);
  return a[Math.floor(WARMUP_FRACTION * a.length)] ?? 0;
}

/** Horizon per `HORIZON_RULE`. */
export function horizonFor(programs: readonly ProgramSpec[]): number {
  const a = arrivals(programs);
  return 2 * (a[a.length - 1] ?? 0) + HORIZON_SLACK_SECONDS;
}

/**
 * Programs/s a saturated run sustained, counted in generated tokens so that a run in which few
 * programs complete (KV thrash) still gives a figure: tokens generated by all calls that
 * completed / mean output tokens per program / makespan. 0 when nothing was generated.
 */
export function saturatedThroughput(programs: readonly ProgramSpec[], result: SimResult): number {
  let planned = 0;
  for (const p of programs) for (const c of p.calls) planned += c.output;
  let generated = 0;
  for (const o of result.programs) generated += o.outputTokens;
  const perProgram = planned / Math.max(1, programs.length);
  return perProgram > 0 && result.metrics.makespan > 0 ? generated / perProgram / result.metrics.makespan : 0;
}

/** The point a run yields. */
export function pointFromResult(rate: number, result: SimResult): SweepPoint {
  const m = result.metrics;
  return {
    rate,
    programs: m.programs,
    meanTokenLatency: m.tokenLatency.mean,
    p95TokenLatency: m.tokenLatency.p95,
    p99TokenLatency: m.tokenLatency.p99,
    meanProgramLatency: m.programLatency.mean,
    overloaded: m.overloaded,
    unfinished: m.unfinished,
    utilisation: m.engineUtilisation,
    preemptions: m.preemptions,
    starvationPromotions: m.starvationPromotions,
    prefixHitRate: m.prefixHitRate,
    wait: m.breakdown.wait,
    execution: m.breakdown.execution,
    swap: m.breakdown.swap,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading a curve.
// ---------------------------------------------------------------------------------------------

/** A point meets the SLO when it is not overloaded and its mean token latency is a number <= slo. */
export function meetsSlo(point: Pick<SweepPoint, 'overloaded' | 'meanTokenLatency'>, slo: number): boolean {
  return !point.overloaded && Number.isFinite(point.meanTokenLatency) && point.meanTokenLatency <= slo;
}

/** What `readMaxRate` found on one curve. */
export interface MaxRateReading {
  /** Programs/s; 0 when the lowest rate already fails (or the curve is empty). */
  readonly rate: number;
  /** True when no swept point failed: the true figure is at least `rate`. */
  readonly lowerBound: boolean;
  /** True when a point above the first failure meets the SLO again (ignored by the rule). */
  readonly nonMonotone: boolean;
}

/** maxRateAtSlo of one curve per `MAX_RATE_RULE`. Points may come in any order. */
export function readMaxRate(points: readonly SweepPoint[], slo: number): MaxRateReading {
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  const fail = sorted.findIndex((p) => !meetsSlo(p, slo));
  if (fail === -1) {
    const last = sorted[sorted.length - 1];
    return { rate: last?.rate ?? 0, lowerBound: last !== undefined, nonMonotone: false };
  }
  const nonMonotone = sorted.slice(fail + 1).some((p) => meetsSlo(p, slo));
  const a = sorted[fail - 1];
  const b = sorted[fail] as SweepPoint;
  if (a === undefined) return { rate: 0, lowerBound: false, nonMonotone };
  if (b.overloaded || !Number.isFinite(b.meanTokenLatency) || b.meanTokenLatency <= a.meanTokenLatency) {
    return { rate: a.rate, lowerBound: false, nonMonotone };
  }
  const t = (slo - a.meanTokenLatency) / (b.meanTokenLatency - a.meanTokenLatency);
  return { rate: a.rate + Math.min(1, Math.max(0, t)) * (b.rate - a.rate), lowerBound: false, nonMonotone };
}

/** Report key of a curve: `policy` when one balancer was swept, else `policy/balancer`. */
export function curveKey(curve: Pick<Curve, 'policy' | 'balancer'>, balancers: number): string {
  return balancers > 1 ? `${curve.policy}/${curve.balancer}` : curve.policy;
}

/** maxRateAtSlo, ratios vs fcfs (same balancer) and notes for a set of curves. */
export function summariseCurves(
  curves: readonly Curve[],
  slo: number,
  balancers: number,
): Pick<SweepReport, 'maxRateAtSlo' | 'ratios' | 'lowerBounds' | 'notes'> {
  const maxRateAtSlo: Record<string, number> = {};
  const lowerBounds: string[] = [];
  const notes: string[] = [];
  const byBalancer = new Map<string, MaxRateReading>();
  for (const curve of curves) {
    const key = curveKey(curve, balancers);
    const reading = readMaxRate(curve.points, slo);
    maxRateAtSlo[key] = reading.rate;
    if (curve.policy === Policies.fcfs) byBalancer.set(curve.balancer, reading);
    if (reading.lowerBound) {
      lowerBounds.push(key);
      notes.push(`${key}: the highest rate swept (${fmt(reading.rate)}/s) still meets the SLO, so ${fmt(reading.rate)}/s is a lower bound`);
    }
    if (reading.nonMonotone) notes.push(`${key}: a point above the first SLO failure meets the SLO again (ignored: the curve is read up to its first failure)`);
    const over = curve.points.filter((p) => p.overloaded).map((p) => fmt(p.rate));
    if (over.length > 0) notes.push(`${key}: overloaded at ${over.join(', ')}/s (latency not read there)`);
  }
  const ratios: Record<string, number | null> = {};
  for (const curve of curves) {
    const base = byBalancer.get(curve.balancer);
    if (base === undefined) continue;
    const key = curveKey(curve, balancers);
    ratios[key] = base.rate > 0 ? (maxRateAtSlo[key] as number) / base.rate : null;
  }
  return { maxRateAtSlo, ratios, lowerBounds, notes };
}

function fmt(x: number): string {
  return String(Number(x.toPrecision(4)));
}

// ---------------------------------------------------------------------------------------------
// Capacity and SLO.
// ---------------------------------------------------------------------------------------------

/**
 * The highest rate that is not overloaded, by doubling (or halving) from `start` until the limit
 * is bracketed (at most 16 probes), then geometric bisection until `runs` probes were made in
 * all, with at least `MIN_BISECTIONS` bisection steps. Returns 0 when even the lowest probe was
 * overloaded. Assumes overload is monotone in rate; where it is not, the answer is one rate at
 * which the probe was not overloaded. `probe` must be deterministic; probes listed in run order.
 */
export function searchCapacity(
  start: number,
  probe: (rate: number) => CapacityProbe,
  runs: number,
): { rate: number; probes: CapacityProbe[] } {
  if (!(start > 0 && Number.isFinite(start))) throw new ConfigError(`capacity search start rate ${start} must be positive`);
  const probes: CapacityProbe[] = [];
  const run = (rate: number): boolean => {
    const p = probe(rate);
    probes.push(p);
    return p.overloaded;
  };
  let lo = 0;
  let hi = Number.POSITIVE_INFINITY;
  let rate = start;
  if (run(rate)) {
    hi = rate;
    while (lo === 0 && probes.length < MAX_BRACKET_RUNS) {
      rate /= 2;
      if (run(rate)) hi = rate;
      else lo = rate;
    }
  } else {
    lo = rate;
    while (hi === Number.POSITIVE_INFINITY && probes.length < MAX_BRACKET_RUNS) {
      rate *= 2;
      if (run(rate)) hi = rate;
      else lo = rate;
    }
  }
  const bracketed = probes.length;
  while (lo > 0 && Number.isFinite(hi) && (probes.length < runs || probes.length - bracketed < MIN_BISECTIONS)) {
    const mid = Math.sqrt(lo * hi);
    if (run(mid)) hi = mid;
    else lo = mid;
  }
  return { rate: lo, probes };
}

// ---------------------------------------------------------------------------------------------
// The sweep.
// ---------------------------------------------------------------------------------------------

/** Inputs of `runSweep`. Validated on entry (`ConfigError`). */
export interface SweepOptions {
  readonly source: ProgramSource;
  readonly profile: string;
  readonly engines: number;
  /** Swept in this order; duplicates are an error. */
  readonly policies: readonly PolicyName[];
  readonly balancers: readonly BalancerName[];
  /**
   * Explicit rates (programs/s, deduplicated and sorted; every one is run), `auto` (a grid
   * relative to the estimated fcfs capacity; a curve stops after two consecutive overloaded
   * points), or `trace` (one point at the source's own arrival times).
   */
  readonly rates: readonly number[] | 'auto' | 'trace';
  /** Seconds per token; null derives it per `derivedSloRule()`. */
  readonly slo: number | null;
  /** Recorded in the report; the source already uses it. */
  readonly seed: number;
  readonly engine: EngineOptions;
  readonly scheduler: SchedulerConfig;
  /** Multiples of capacity for `auto` (ascending); defaults to `AUTO_GRID`. */
  readonly grid?: readonly number[];
  /** Runs of the capacity search; defaults to `CAPACITY_RUNS`. */
  readonly capacityRuns?: number;
  /** Replaces `simulate` (tests only). */
  readonly simulator?: (config: SimConfig) => SimResult;
}

/** Progress of a sweep: `done` of `total` simulations (total may grow), `label` the run just started. */
export interface SweepProgress {
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

function validate(o: SweepOptions): void {
  if (o.policies.length === 0) throw new ConfigError('no policy to sweep');
  if (o.balancers.length === 0) throw new ConfigError('no balancer to sweep');
  if (new Set(o.policies).size !== o.policies.length) throw new ConfigError(`a policy is listed twice: ${o.policies.join(',')}`);
  if (new Set(o.balancers).size !== o.balancers.length) throw new ConfigError(`a balancer is listed twice: ${o.balancers.join(',')}`);
  if (!Number.isInteger(o.engines) || o.engines < 1) throw new ConfigError(`engines = ${o.engines} must be an integer >= 1`);
  if (o.source.count < 1) throw new ConfigError('the workload has no programs');
  if (o.slo !== null && !(o.slo > 0 && Number.isFinite(o.slo))) throw new ConfigError(`slo = ${o.slo} must be a positive number of seconds per token`);
  if (Array.isArray(o.rates)) {
    if (o.rates.length === 0) throw new ConfigError('the rate list is empty');
    for (const r of o.rates) if (!(r > 0 && Number.isFinite(r))) throw new ConfigError(`rate ${r} must be a positive number of programs/s`);
  }
  if (o.rates === 'trace' && !o.source.hasOwnArrivals) throw new ConfigError(`${o.source.label} has no arrival times of its own; give rates`);
  const grid = o.grid ?? AUTO_GRID;
  if (grid.length === 0 || grid.some((g, i) => !(g > 0) || (i > 0 && g <= (grid[i - 1] as number)))) {
    throw new ConfigError(`the rate grid must be positive and strictly ascending: ${grid.join(',')}`);
  }
  const runs = o.capacityRuns ?? CAPACITY_RUNS;
  if (!Number.isInteger(runs) || runs < 1) throw new ConfigError(`capacityRuns = ${runs} must be an integer >= 1`);
}

/**
 * Sweeps every (policy, balancer) pair over the arrival rates and reads each curve's
 * throughput at the SLO. Each rate's programs are generated once and shared by every curve.
 * Deterministic: the same options give the same report. `onProgress` is called before each
 * simulation and once at the end.
 */
export function runSweep(options: SweepOptions, onProgress?: (progress: SweepProgress) => void): SweepReport {
  validate(options);
  const sim = options.simulator ?? simulate;
  const { source, policies, balancers } = options;
  const curvesCount = policies.length * balancers.length;
  const grid = options.grid ?? AUTO_GRID;
  const capacityRuns = options.capacityRuns ?? CAPACITY_RUNS;
  const needCapacity = options.rates === 'auto' || options.slo === null;
  const fixedRates = Array.isArray(options.rates) ? [...new Set(options.rates)].sort((a, b) => a - b) : null;
  const sweepPoints = options.rates === 'trace' ? 1 : (fixedRates?.length ?? grid.length);

  // Progress: simulations done, plus those still planned per phase (a phase's plan is dropped when it ends).
  let done = 0;
  const planned = {
    capacity: needCapacity ? 1 + capacityRuns : 0,
    unloaded: options.slo === null ? 1 : 0,
    curves: curvesCount * sweepPoints,
  };
  const tick = (label: string): void => {
    onProgress?.({ done, total: done + planned.capacity + planned.unloaded + planned.curves, label });
  };
  const finishRun = (phase: keyof typeof planned): void => {
    done += 1;
    planned[phase] = Math.max(0, planned[phase] - 1);
  };

  const run = (programs: readonly ProgramSpec[], policy: PolicyName, balancer: BalancerName): SimResult =>
    sim({
      programs,
      engines: options.engines,
      profile: options.profile,
      policy,
      balancer,
      scheduler: options.scheduler,
      engine: options.engine,
      warmup: warmupFor(programs),
      horizon: horizonFor(programs),
    });
  const fcfsBalancer = balancers[0] as BalancerName;

  // 1. Capacity of fcfs on this engine configuration.
  let capacity: CapacityEstimate | null = null;
  if (needCapacity) {
    tick('capacity: saturation probe');
    const saturated = source.programsAt(SATURATION_RATE);
    const res = run(saturated, Policies.fcfs, fcfsBalancer);
    finishRun('capacity');
    const throughput = saturatedThroughput(saturated, res);
    if (!(throughput > 0)) throw new SweepError('capacity search: fcfs generated no token even with every program queued');
    const found = searchCapacity(
      throughput,
      (rate) => {
        tick(`capacity: fcfs@${fmt(rate)}/s`);
        const r = run(source.programsAt(rate), Policies.fcfs, fcfsBalancer);
        finishRun('capacity');
        return { rate, overloaded: r.metrics.overloaded, meanTokenLatency: r.metrics.tokenLatency.mean };
      },
      capacityRuns,
    );
    planned.capacity = 0;
    if (!(found.rate > 0)) throw new SweepError(`capacity search: fcfs is overloaded even at ${fmt(found.probes.at(-1)?.rate ?? 0)}/s`);
    capacity = { rate: found.rate, saturatedThroughput: throughput, probes: found.probes, rule: CAPACITY_RULE };
  }

  // 2. The SLO.
  let slo: number;
  let sloRule: string;
  let unloaded: UnloadedRun | null = null;
  if (options.slo === null) {
    const rate = UNLOADED_FRACTION * (capacity as CapacityEstimate).rate;
    tick(`unloaded: fcfs@${fmt(rate)}/s`);
    const r = run(source.programsAt(rate), Policies.fcfs, fcfsBalancer);
    finishRun('unloaded');
    const latency = r.metrics.tokenLatency.mean;
    if (!(latency > 0 && Number.isFinite(latency))) throw new SweepError(`the unloaded run measured no token latency (${latency})`);
    unloaded = { rate, meanTokenLatency: latency };
    slo = SLO_FACTOR * latency;
    sloRule = derivedSloRule();
  } else {
    slo = options.slo;
    sloRule = givenSloRule(slo);
  }

  // 3. The curves.
  const rates: (number | null)[] =
    options.rates === 'trace' ? [null] : (fixedRates ?? grid.map((g) => (capacity as CapacityEstimate).rate * g));
  const stopAfter = options.rates === 'auto' ? STOP_AFTER_OVERLOADED : Number.POSITIVE_INFINITY;
  const pairs: { policy: PolicyName; balancer: BalancerName; points: SweepPoint[]; streak: number }[] = [];
  for (const policy of policies) for (const balancer of balancers) pairs.push({ policy, balancer, points: [], streak: 0 });
  for (const rate of rates) {
    const active = pairs.filter((c) => c.streak < stopAfter);
    planned.curves = Math.max(0, planned.curves - (curvesCount - active.length));
    if (active.length === 0) continue;
    const programs = source.programsAt(rate);
    const shownRate = rate ?? observedRate(programs);
    for (const c of active) {
      tick(`${balancers.length > 1 ? `${c.policy}/${c.balancer}` : c.policy}@${fmt(shownRate)}/s`);
      const point = pointFromResult(shownRate, run(programs, c.policy, c.balancer));
      finishRun('curves');
      c.points.push(point);
      c.streak = point.overloaded ? c.streak + 1 : 0;
    }
  }
  tick('done');

  const curves: Curve[] = pairs.map((c) => ({ policy: c.policy, balancer: c.balancer, points: c.points }));
  return {
    schema: REPORT_SCHEMA,
    workload: source.label,
    profile: options.profile,
    engines: options.engines,
    seed: options.seed,
    programs: source.count,
    rateMode: options.rates === 'auto' ? 'auto' : options.rates === 'trace' ? 'trace' : 'list',
    slo,
    sloRule,
    warmupRule: WARMUP_RULE,
    horizonRule: HORIZON_RULE,
    maxRateRule: MAX_RATE_RULE,
    capacity,
    unloaded,
    engine: options.engine,
    scheduler: options.scheduler,
    curves,
    ...summariseCurves(curves, slo, balancers.length),
  };
}
