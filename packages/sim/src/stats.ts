import type { Summary } from './sim-types.ts';

/** Mean and nearest-rank percentiles of `values`; all NaN when empty. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { mean: Number.NaN, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  const rank = (q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
  return { mean: sum / sorted.length, p50: rank(0.5), p95: rank(0.95), p99: rank(0.99) };
}
