import type { EngineProfile } from './profile.ts';
import { a100Sxm80gb, h100Sxm80gb, llama31_8b, llama31_70b } from './specs.ts';
import { kernelSeconds } from './step-time.ts';
import type { StepShape } from './types.ts';

/** Phase of a reference point: a pure decode batch or a single-sequence whole-prompt prefill. */
export const RefPhase = { decode: 'decode', prefill: 'prefill' } as const;
export type RefPhase = (typeof RefPhase)[keyof typeof RefPhase];

/**
 * How much to trust a reference set: `measured` = sums of measured per-kernel medians;
 * `derived` = measured linear layers, approximated attention (scaled from another TP degree);
 * `estimate` = scaled from another GPU or model (±20–30 %).
 */
export const RefQuality = { measured: 'measured', derived: 'derived', estimate: 'estimate' } as const;
export type RefQuality = (typeof RefQuality)[keyof typeof RefQuality];

/**
 * One reference step: `batch` sequences all at `context` tokens of KV (decode), or one prompt of
 * `tokens` tokens with no cached prefix (prefill). `referenceMs` is GPU kernel time (ms) including
 * the LM-head estimate, excluding CPU overhead.
 */
export interface RefPoint {
  readonly phase: RefPhase;
  readonly batch: number;
  readonly context: number;
  readonly tokens: number;
  readonly referenceMs: number;
}

/** A reference grid for one (model, GPU, TP) combination. Names match `ModelSpec`/`GpuSpec` names. */
export interface ReferenceSet {
  readonly modelName: string;
  readonly gpuName: string;
  readonly tp: number;
  readonly quality: RefQuality;
  readonly source: string;
  readonly points: readonly RefPoint[];
}

function decode(batch: number, context: number, referenceMs: number): RefPoint {
  return { phase: RefPhase.decode, batch, context, tokens: batch, referenceMs };
}

function prefill(tokens: number, referenceMs: number): RefPoint {
  return { phase: RefPhase.prefill, batch: 1, context: 0, tokens, referenceMs };
}

const TIMINGS = 'engine-timings.md';

/**
 * The reference grids (step_ms column of vidur-derived-step-times.csv). Llama-3-8B/70B figures
 * are used for Llama-3.1 (identical shapes). Points the source did not profile are absent
 * (8B/A100 b=128 ctx 8192 and b=256 ctx 8192 exceed the KV capacity).
 */
export const referenceSets: readonly ReferenceSet[] = [
  {
    modelName: llama31_8b.name,
    gpuName: a100Sxm80gb.name,
    tp: 1,
    quality: RefQuality.measured,
    source: `${TIMINGS} §1, step_ms of vidur-derived-step-times.csv: Vidur A100 Meta-Llama-3-8B mlp.csv + FlashInfer attention.csv medians (b=128 ctx 2048 interpolated)`,
    points: [
      decode(1, 512, 11.2),
      decode(8, 512, 11.83),
      decode(32, 512, 13.66),
      decode(64, 512, 15.43),
      decode(128, 512, 19.93),
      decode(256, 512, 31.38),
      decode(1, 2048, 11.2),
      decode(8, 2048, 12.63),
      decode(32, 2048, 17.4),
      decode(64, 2048, 22.95),
      decode(128, 2048, 36.21),
      decode(256, 2048, 60.34),
      decode(1, 8192, 11.58),
      decode(8, 8192, 16.28),
      decode(32, 8192, 33.43),
      decode(64, 8192, 55.27),
      prefill(128, 14.3),
      prefill(512, 36.81),
      prefill(1024, 79.26),
      prefill(2048, 152.57),
      prefill(4096, 304.32),
      prefill(8192, 651.98),
    ],
  },
  {
    modelName: llama31_8b.name,
    gpuName: h100Sxm80gb.name,
    tp: 1,
    quality: RefQuality.estimate,
    source: `${TIMINGS} §2, step_ms of vidur-derived-step-times.csv: Vidur H100 Llama-2-7b mlp.csv scaled to Llama-3-8B; attention = A100 × 0.61 (decode), × 0.5 (prefill)`,
    points: [
      decode(1, 512, 6.75),
      decode(8, 512, 7.16),
      decode(32, 512, 8.24),
      decode(64, 512, 9.25),
      decode(128, 512, 10.86),
      decode(256, 512, 17.22),
      decode(1, 2048, 6.75),
      decode(8, 2048, 7.65),
      decode(32, 2048, 10.52),
      decode(64, 2048, 13.83),
      decode(128, 2048, 20.77),
      decode(256, 2048, 34.85),
      decode(1, 8192, 6.98),
      decode(8, 8192, 9.87),
      decode(32, 8192, 20.28),
      decode(64, 8192, 33.5),
      prefill(128, 7.47),
      prefill(512, 13.58),
      prefill(1024, 25.37),
      prefill(2048, 48.49),
      prefill(4096, 102.33),
    ],
  },
  {
    modelName: llama31_70b.name,
    gpuName: a100Sxm80gb.name,
    tp: 4,
    quality: RefQuality.derived,
    source: `${TIMINGS} §3, step_ms of vidur-derived-step-times.csv: Vidur A100 Meta-Llama-3-70B mlp.csv TP4 + a100_dgx all_reduce + 70B-shape FlashAttention TP2 × 0.5`,
    points: [
      decode(1, 512, 32.42),
      decode(8, 512, 40.11),
      decode(32, 512, 35.2),
      decode(64, 512, 43.8),
      decode(128, 512, 50.46),
      decode(1, 2048, 32.42),
      decode(8, 2048, 40.99),
      decode(32, 2048, 38.04),
      decode(64, 2048, 49.68),
      decode(128, 2048, 59.86),
      decode(1, 4032, 32.42),
      decode(8, 4032, 41.43),
      decode(32, 4032, 41.4),
      decode(64, 4032, 57.2),
      decode(128, 4032, 72.58),
      prefill(128, 46.5),
      prefill(512, 116.02),
      prefill(1024, 230.9),
      prefill(2048, 422.9),
      prefill(4096, 843.02),
    ],
  },
  {
    modelName: llama31_70b.name,
    gpuName: h100Sxm80gb.name,
    tp: 4,
    quality: RefQuality.estimate,
    source: `${TIMINGS} §3, step_ms of vidur-derived-step-times.csv: Vidur H100 Llama-2-70b mlp.csv TP4 + h100_dgx all_reduce; attention = A100 TP2 × 0.5 × 0.61`,
    points: [
      decode(1, 512, 24.61),
      decode(8, 512, 25.81),
      decode(32, 512, 26.81),
      decode(64, 512, 27.23),
      decode(128, 512, 27.77),
      decode(1, 2048, 24.61),
      decode(8, 2048, 26.35),
      decode(32, 2048, 28.53),
      decode(64, 2048, 30.81),
      decode(128, 2048, 33.49),
      decode(1, 4032, 24.61),
      decode(8, 4032, 26.62),
      decode(32, 4032, 30.58),
      decode(64, 4032, 35.38),
      decode(128, 4032, 41.23),
      prefill(128, 25.22),
      prefill(512, 44.74),
      prefill(1024, 84.82),
      prefill(2048, 157.28),
      prefill(4096, 322.32),
    ],
  },
];

/** The reference set for the profile's (model, GPU, tp), or undefined when there is none. */
export function referenceSetFor(profile: EngineProfile): ReferenceSet | undefined {
  return referenceSets.find(
    (s) => s.modelName === profile.model.name && s.gpuName === profile.gpu.name && s.tp === profile.tp,
  );
}

/**
 * The step shape of a reference point: decode = `batch` sequences × `context` tokens of KV;
 * prefill = one sequence, `tokens` new tokens, no cached prefix (tokens² / 2 causal pairs).
 */
export function referenceShape(point: RefPoint): StepShape {
  if (point.phase === RefPhase.decode) {
    return {
      decodeSeqs: point.batch,
      decodeContextTokens: point.batch * point.context,
      prefillTokens: 0,
      prefillSeqs: 0,
      prefillAttentionPairs: 0,
    };
  }
  return {
    decodeSeqs: 0,
    decodeContextTokens: 0,
    prefillTokens: point.tokens,
    prefillSeqs: 1,
    prefillAttentionPairs: (point.tokens * point.tokens) / 2,
  };
}

/** One reference point against the model; errorPct = 100 × (predicted − reference) / reference. */
export interface CalibrationRow {
  readonly phase: RefPhase;
  readonly batch: number;
  readonly context: number;
  readonly tokens: number;
  readonly referenceMs: number;
  readonly predictedMs: number;
  readonly errorPct: number;
}

/**
 * `kernelSeconds` of the profile at every point of its reference set (empty when the profile's
 * model/GPU/tp has none). Times in ms, as in the reference tables.
 */
export function calibrationRows(profile: EngineProfile): CalibrationRow[] {
  const set = referenceSetFor(profile);
  if (!set) return [];
  return set.points.map((p) => {
    const predictedMs = kernelSeconds(profile, referenceShape(p)) * 1000;
    return {
      phase: p.phase,
      batch: p.batch,
      context: p.context,
      tokens: p.tokens,
      referenceMs: p.referenceMs,
      predictedMs,
      errorPct: (100 * (predictedMs - p.referenceMs)) / p.referenceMs,
    };
  });
}

/** Largest |errorPct| over the rows (0 for none). */
export function maxAbsErrorPct(rows: readonly CalibrationRow[]): number {
  let max = 0;
  for (const r of rows) max = Math.max(max, Math.abs(r.errorPct));
  return max;
}
