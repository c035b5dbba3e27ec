import { GittinsFallback } from './config.ts';

/**
 * The empirical distribution of programs' total service, learned online from programs that
 * ended, and the Gittins index computed from it: the non-clairvoyant policy that minimises mean
 * response time in a single-server queue when only the size distribution is known (Gittins;
 * see Scully and Harchol-Balter's SOAP framework). For a program that has attained service a,
 *
 *   G(a) = max over thresholds t > a of  P(S <= t | S > a) / E[min(S, t) - a | S > a],
 *
 * the best rate of completion per unit of further service. A higher index runs first. With
 * decreasing-hazard (heavy-tailed) sizes it behaves like least-attained-service; with
 * increasing-hazard sizes like FCFS (finish what was started). Samples are kept per program
 * class (an agent kind the client declares, never its size); a class with too few samples
 * borrows the pooled distribution.
 */
export interface GittinsOptions {
  /** Samples a class needs before its own distribution is used (else the pooled one). */
  readonly minSamples: number;
  /** Most recent samples kept per class (a sliding window, so the estimate can follow drift). */
  readonly window: number;
  /** Attained-service grid the index is tabulated on: `points` log-spaced points from `lo` to `hi` seconds. */
  readonly grid: { readonly lo: number; readonly hi: number; readonly points: number };
  /** Recompute a class's table after this many new samples. */
  readonly refreshEvery: number;
}

export const DEFAULT_GITTINS_OPTIONS: GittinsOptions = {
  minSamples: 20,
  window: 2000,
  grid: { lo: 0.05, hi: 4096, points: 96 },
  refreshEvery: 20,
};

/** The pooled class. */
export const POOLED_CLASS = '*';

interface ClassStats {
  /** The last `window` samples, as a ring (order does not matter: tables sort a copy). */
  samples: number[];
  /** Next slot to overwrite once the ring is full. */
  next: number;
  sinceRefresh: number;
  /** Index at each grid point; empty until the first refresh. */
  table: number[];
  /**
   * The samples as of the last refresh, when its table is not computed yet (null otherwise):
   * tabulating is O(grid x window), so it waits for the first `index` that needs it. The
   * table is then exactly the one an eager refresh would have made.
   */
  pending: number[] | null;
}

/**
 * Gittins index of an empirical distribution at attained service `a`. `sorted` ascending.
 * Returns +Infinity when no sample exceeds `a` by a positive amount (the program has outlived
 * every sample: it is treated as about to finish, as the estimate has nothing to say), and
 * 0 for an empty distribution.
 */
export function gittinsIndex(sorted: readonly number[], a: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= a) lo = mid + 1;
    else hi = mid;
  }
  const k = n - lo;
  if (k === 0) return Number.POSITIVE_INFINITY;
  let best = 0;
  let spent = 0; // sum over the first j samples above a of (s - a)
  for (let j = 1; j <= k; j++) {
    const s = (sorted[lo + j - 1] as number) - a;
    spent += s;
    const expected = spent + (k - j) * s;
    if (expected > 0) {
      const g = j / expected;
      if (g > best) best = g;
    }
  }
  return best;
}

/** Learned size distributions per class, with tabulated Gittins indices. Mutable; owned by `SchedulerCore`. */
export class ServiceDistribution {
  readonly options: GittinsOptions;
  private readonly classes = new Map<string, ClassStats>();
  private readonly gridPoints: number[];

  constructor(options: GittinsOptions = DEFAULT_GITTINS_OPTIONS) {
    this.options = options;
    const { lo, hi, points } = options.grid;
    this.gridPoints = Array.from({ length: points }, (_, i) => lo * (hi / lo) ** (i / (points - 1)));
  }

  /** Records the total service of a program that ended. Non-finite or negative totals are ignored. */
  record(programClass: string, totalService: number): void {
    if (!(totalService >= 0 && Number.isFinite(totalService))) return;
    this.add(programClass, totalService);
    if (programClass !== POOLED_CLASS) this.add(POOLED_CLASS, totalService);
  }

  private add(name: string, value: number): void {
    let c = this.classes.get(name);
    if (c === undefined) {
      c = { samples: [], next: 0, sinceRefresh: 0, table: [], pending: null };
      this.classes.set(name, c);
    }
    if (c.samples.length < this.options.window) {
      c.samples.push(value);
    } else {
      c.samples[c.next] = value;
      c.next = (c.next + 1) % this.options.window;
    }
    c.sinceRefresh += 1;
    const refreshed = c.table.length > 0 || c.pending !== null;
    if (refreshed ? c.sinceRefresh >= this.options.refreshEvery : c.samples.length >= this.options.minSamples) {
      c.pending = c.samples.slice();
      c.sinceRefresh = 0;
    }
  }

  /** The class's table, tabulating a pending refresh first; empty when it has none yet. */
  private tableOf(c: ClassStats): number[] {
    if (c.pending !== null) {
      const sorted = c.pending.sort((x, y) => x - y);
      c.table = this.gridPoints.map((a) => gittinsIndex(sorted, a));
      c.pending = null;
    }
    return c.table;
  }

  /** Samples held for a class. */
  samples(programClass: string): number {
    return this.classes.get(programClass)?.samples.length ?? 0;
  }

  /**
   * The order key `gittins` gives a program of `programClass` that has attained `attained`
   * seconds (higher runs first): its Gittins index (`index`), except where the distribution is
   * silent, where `fallback` decides (`GittinsFallback`). Under `finish-first` that is `index`
   * itself: NaN while nothing is learned, the pooled table while the class has fewer than
   * `minSamples` samples, +Infinity once the program has outlived its class's samples. Under
   * `lindy`, each of those three cases gives 1 / max(attained, grid.lo) instead; the result is
   * then always finite and positive.
   */
  rank(programClass: string, attained: number, fallback: Exclude<GittinsFallback, 'auto'>): number {
    if (fallback === GittinsFallback.finishFirst) return this.index(programClass, attained);
    const lindy = 1 / Math.max(attained, this.options.grid.lo);
    if (this.samples(programClass) < this.options.minSamples) return lindy;
    const g = this.index(programClass, attained);
    return Number.isFinite(g) ? g : lindy;
  }

  /**
   * The Gittins index of a program of `programClass` that has attained `attained` seconds, read
   * from the class's table (the pooled one when the class has too few samples) at the largest
   * grid point not above `attained`. NaN while no table exists (cold start: the caller decides).
   */
  index(programClass: string, attained: number): number {
    const own = this.classes.get(programClass);
    const ownTable = own === undefined ? [] : this.tableOf(own);
    const pooled = this.classes.get(POOLED_CLASS);
    const table = ownTable.length > 0 ? ownTable : pooled === undefined ? [] : this.tableOf(pooled);
    if (table.length === 0) return Number.NaN;
    const g = this.gridPoints;
    let lo = 0;
    let hi = g.length - 1;
    if (attained <= (g[0] as number)) return table[0] as number;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((g[mid] as number) <= attained) lo = mid;
      else hi = mid - 1;
    }
    return table[lo] as number;
  }
}
