import { ConfigError, type Rng } from '@autellix/core';

/**
 * Seeded samplers for the workload generators. Every sampler is a pure function of the `Rng`
 * it is handed (never `Math.random`), and consumes a fixed number of draws per sample, so a
 * program body is a deterministic function of its stream.
 *
 * Lognormal and count samplers are built once from a spec (`lognormalSampler`,
 * `countSampler`): building solves for the location parameter so that the mean AFTER clipping
 * equals the spec's mean; sampling is then cheap.
 */

/** A lognormal clipped to [min, max]. Units are the caller's (tokens, seconds, calls). */
export interface LognormalSpec {
  /** Target mean after clipping; must lie strictly inside (min, max). */
  readonly mean: number;
  /** Standard deviation of the underlying normal (log scale); 0 gives a constant. >= 0. */
  readonly sigma: number;
  readonly min: number;
  readonly max: number;
}

/** A count (e.g. calls per program) in {1, ..., max} with a target mean. */
export interface CountSpec {
  /** Target mean after clipping to [1, max]; 1 <= mean < max (or mean = max = 1). */
  readonly mean: number;
  /** Largest count ever drawn (integer >= 1). */
  readonly max: number;
  /** Log-scale standard deviation of the underlying lognormal; larger = heavier tail. > 0. */
  readonly sigma: number;
}

/** A uniform float in (0, 1): `1 - next()`, so logarithms stay finite. */
function openUnit(rng: Rng): number {
  return 1 - rng.next();
}

/** A standard normal draw (Box-Muller; consumes exactly two uniforms, the second value is discarded). */
export function standardNormal(rng: Rng): number {
  const u = openUnit(rng);
  const v = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Exponential with the given mean (>= 0; mean 0 returns 0 but still consumes one draw). */
export function exponential(rng: Rng, mean: number): number {
  const u = openUnit(rng);
  return mean === 0 ? 0 : -mean * Math.log(u);
}

/** A uniform integer in [lo, hi], both inclusive integers with lo <= hi. One draw. */
export function uniformInt(rng: Rng, lo: number, hi: number): number {
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) {
    throw new ConfigError(`uniformInt needs integers lo <= hi, got [${lo}, ${hi}]`);
  }
  return lo + Math.floor(rng.next() * (hi - lo + 1));
}

/** True with probability p (one draw). */
export function bernoulli(rng: Rng, p: number): boolean {
  return rng.next() < p;
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, absolute error < 1.5e-7). */
export function normalCdf(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Mean of clip(exp(N(mu, sigma^2)), min, max), closed form. */
export function clippedLognormalMean(mu: number, sigma: number, min: number, max: number): number {
  if (sigma === 0) return Math.min(max, Math.max(min, Math.exp(mu)));
  const a = min > 0 ? (Math.log(min) - mu) / sigma : -Infinity;
  const b = (Math.log(max) - mu) / sigma;
  const body = Math.exp(mu + (sigma * sigma) / 2) * (normalCdf(b - sigma) - normalCdf(a - sigma));
  const upper = max === Infinity ? 0 : max * (1 - normalCdf(b));
  return min * normalCdf(a) + upper + body;
}

/** Solves increasing `f(mu) = target` by bisection on [lo, hi]. */
function bisect(f: (mu: number) => number, target: number, lo: number, hi: number): number {
  for (let i = 0; i < 200 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Throws `ConfigError` unless the spec is usable; `what` names it in the message. */
export function validateLognormalSpec(spec: LognormalSpec, what: string): void {
  const { mean, sigma, min, max } = spec;
  if (![mean, sigma, min, max].every(Number.isFinite)) throw new ConfigError(`${what}: fields must be finite numbers`);
  if (sigma < 0) throw new ConfigError(`${what}.sigma must be >= 0, got ${sigma}`);
  if (!(min >= 0 && min < max)) throw new ConfigError(`${what} needs 0 <= min < max, got [${min}, ${max}]`);
  if (!(mean > min && mean < max)) throw new ConfigError(`${what}.mean must lie in (min, max), got ${mean}`);
}

/**
 * Builds a sampler of clip(exp(N(mu, sigma^2)), min, max) whose mean equals `spec.mean`
 * (mu solved numerically). Each sample consumes two uniforms.
 */
export function lognormalSampler(spec: LognormalSpec, what = 'lognormal'): (rng: Rng) => number {
  validateLognormalSpec(spec, what);
  const { mean, sigma, min, max } = spec;
  const mu =
    sigma === 0
      ? Math.log(mean)
      : bisect((m) => clippedLognormalMean(m, sigma, min, max), mean, Math.log(mean) - 20 * sigma - 20, Math.log(max) + 20 * sigma);
  return (rng) => Math.min(max, Math.max(min, Math.exp(mu + sigma * standardNormal(rng))));
}

/**
 * Builds a sampler of positive integers clip(round(X), min, max) with X lognormal, whose mean
 * (continuous closed form, before rounding) equals `spec.mean`; rounding shifts it by well under
 * one token for the means used here. `min` must be an integer >= 1. Used for token counts.
 */
export function tokenSampler(spec: LognormalSpec, what = 'tokens'): (rng: Rng) => number {
  if (!Number.isInteger(spec.min) || spec.min < 1 || !Number.isInteger(spec.max)) {
    throw new ConfigError(`${what}: min and max must be integers with min >= 1`);
  }
  const draw = lognormalSampler(spec, what);
  return (rng) => Math.round(draw(rng));
}

/** Exact mean of clip(round(exp(N(mu, sigma^2))), 1, max) over the integers. */
export function discreteLognormalMean(mu: number, sigma: number, max: number): number {
  let mean = 0;
  for (let k = 1; k <= max; k++) {
    const lo = k === 1 ? 0 : normalCdf((Math.log(k - 0.5) - mu) / sigma);
    const hi = k === max ? 1 : normalCdf((Math.log(k + 0.5) - mu) / sigma);
    mean += k * (hi - lo);
  }
  return mean;
}

/**
 * Builds a sampler of counts in {1..max}: round(lognormal), clipped, with mu solved so that the
 * EXACT mean of the clipped discrete distribution equals `spec.mean`. A heavy right tail reaches
 * `max` occasionally. Each sample consumes two uniforms.
 */
export function countSampler(spec: CountSpec, what = 'count'): (rng: Rng) => number {
  const { mean, max, sigma } = spec;
  if (!Number.isInteger(max) || max < 1) throw new ConfigError(`${what}.max must be an integer >= 1, got ${max}`);
  if (!(Number.isFinite(sigma) && sigma > 0)) throw new ConfigError(`${what}.sigma must be > 0, got ${sigma}`);
  if (max === 1) {
    if (mean !== 1) throw new ConfigError(`${what}.mean must be 1 when max is 1`);
    return (rng) => {
      standardNormal(rng);
      return 1;
    };
  }
  if (!(mean >= 1 && mean < max)) throw new ConfigError(`${what}.mean must lie in [1, max), got ${mean}`);
  const mu = bisect((m) => discreteLognormalMean(m, sigma, max), mean, -20 * sigma - 20, Math.log(max) + 20 * sigma);
  return (rng) => Math.min(max, Math.max(1, Math.round(Math.exp(mu + sigma * standardNormal(rng)))));
}

/**
 * Shifted geometric count 1 + G clipped to max, with p solved so that the clipped mean
 * (1 - (1-p)^max) / p equals `mean`. A lighter tail than `countSampler`. One draw per sample.
 */
export function geometricCountSampler(mean: number, max: number): (rng: Rng) => number {
  if (!Number.isInteger(max) || max < 1) throw new ConfigError(`geometric max must be an integer >= 1, got ${max}`);
  if (!(mean >= 1 && (mean < max || (mean === 1 && max === 1)))) {
    throw new ConfigError(`geometric mean must lie in [1, max), got ${mean}`);
  }
  if (mean === 1) return (rng) => (rng.next(), 1);
  // Clipped mean is decreasing in p; bisect on -p so that the function is increasing.
  const p = -bisect((negP) => { const q = 1 + negP; return (1 - q ** max) / -negP; }, mean, -1, -1e-12);
  const logQ = Math.log(1 - p);
  return (rng) => Math.min(max, 1 + Math.floor(Math.log(openUnit(rng)) / logQ));
}
