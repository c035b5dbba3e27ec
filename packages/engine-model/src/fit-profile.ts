import { ConfigError } from '@autellix/core';
import type { EngineProfile } from './profile.ts';
import { kvBytesPerToken, swapSeconds } from './profile.ts';
import { decoderParams } from './specs.ts';
import { stepSeconds } from './step-time.ts';
import type { GpuSpec, ModelSpec, StepShape } from './types.ts';

/** Consecutive engine steps measured together (usually one; a long prompt's chunks are several): their shapes and total wall time. */
export interface MeasuredStep {
  /** What the point is, for reports ("decode b=4 ctx=273"). */
  readonly label: string;
  readonly shapes: readonly StepShape[];
  readonly seconds: number;
}

/** Saving (out) and restoring (in) the KV state of one call of `tokens` tokens, seconds. */
export interface MeasuredSwap {
  readonly tokens: number;
  readonly outSeconds: number;
  readonly inSeconds: number;
}

/** Inputs of `fitProfileToSteps`. */
export interface StepFitInput {
  readonly name: string;
  readonly description: string;
  readonly model: ModelSpec;
  /**
   * The device the constants are fractions of. For a CPU this is nominal (say, one core's peak
   * FMA rate and its cache bandwidth): the fitted fractions absorb whatever the device really does.
   */
  readonly gpu: GpuSpec;
  /** KV capacity of the engine in tokens (rounded down to `blockSize`). */
  readonly kvCapacityTokens: number;
  readonly blockSize: number;
  /** At least as many points as there are terms (6), covering decode and prefill. */
  readonly steps: readonly MeasuredStep[];
  /** At least one point; two or more of different sizes fit a bandwidth. */
  readonly swaps: readonly MeasuredSwap[];
  readonly sources: readonly string[];
}

/** A measured point against the fitted profile; errorPct = 100 × (predicted − measured) / measured. */
export interface StepFitRow {
  readonly label: string;
  readonly measuredMs: number;
  readonly predictedMs: number;
  readonly errorPct: number;
}

/** The fitted profile and how well it reproduces its own points. */
export interface StepFit {
  readonly profile: EngineProfile;
  readonly rows: readonly StepFitRow[];
  readonly swapRows: readonly StepFitRow[];
  /** Mean and largest |errorPct| over `rows` (steps only). */
  readonly meanAbsErrorPct: number;
  readonly maxAbsErrorPct: number;
}

/**
 * The terms of a step the fit prices, each linear in one coefficient (seconds per unit):
 * a fixed cost per step, per sequence, per token computed, per token of KV read by decode, per
 * step with a prefill, and per causal query-key pair of prefill attention.
 */
const TERMS = ['step', 'sequence', 'token', 'decodeKvToken', 'prefillStep', 'prefillPair'] as const;

/** The terms of one step. */
function stepFeatures(s: StepShape): number[] {
  return [
    1,
    s.decodeSeqs + s.prefillSeqs,
    s.decodeSeqs + s.prefillTokens,
    s.decodeContextTokens,
    s.prefillSeqs > 0 ? 1 : 0,
    s.prefillAttentionPairs,
  ];
}

/** The terms of consecutive steps: the sum of each step's. */
function features(shapes: readonly StepShape[]): number[] {
  const sum = TERMS.map(() => 0);
  for (const s of shapes) {
    const f = stepFeatures(s);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (f[i] as number);
  }
  return sum;
}

/** Solves the square system a·x = b by Gaussian elimination with partial pivoting; null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]?.[col] as number) > Math.abs(m[pivot]?.[col] as number)) pivot = r;
    const top = m[pivot] as number[];
    if (Math.abs(top[col] as number) < 1e-300) return null;
    m[pivot] = m[col] as number[];
    m[col] = top;
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const row = m[r] as number[];
      const f = (row[col] as number) / (top[col] as number);
      if (f === 0) continue;
      for (let c = col; c <= n; c++) row[c] = (row[c] as number) - f * (top[c] as number);
    }
  }
  return m.map((row, i) => (row[n] as number) / (row[i] as number));
}

/**
 * Non-negative least squares of relative error: minimises Σ ((x·f − y) / y)² over x ≥ 0 by an
 * active set (solve the normal equations on the free terms, pin the most negative to 0, repeat).
 * Columns are scaled to unit size first, so the normal equations stay well conditioned.
 */
export function nonNegativeRelativeFit(rows: readonly (readonly number[])[], targets: readonly number[]): number[] {
  const k = rows[0]?.length ?? 0;
  const scale = Array.from({ length: k }, (_, j) => Math.max(...rows.map((r, i) => Math.abs((r[j] as number) / (targets[i] as number)))) || 1);
  const free = Array.from({ length: k }, (_, j) => rows.some((r) => (r[j] as number) !== 0));
  for (;;) {
    const idx = free.flatMap((f, j) => (f ? [j] : []));
    const ata = idx.map(() => idx.map(() => 0));
    const atb = idx.map(() => 0);
    rows.forEach((r, i) => {
      const y = targets[i] as number;
      const z = idx.map((j) => (r[j] as number) / y / (scale[j] as number));
      z.forEach((zi, a) => {
        atb[a] = (atb[a] as number) + zi;
        z.forEach((zj, b) => {
          (ata[a] as number[])[b] = ((ata[a] as number[])[b] as number) + zi * zj;
        });
      });
    });
    const x = solve(ata, atb);
    const out = Array.from({ length: k }, () => 0);
    if (x === null) {
      // Collinear terms: drop the last free one and retry.
      const last = idx[idx.length - 1];
      if (last === undefined) return out;
      free[last] = false;
      continue;
    }
    let worst = -1;
    let worstValue = 0;
    idx.forEach((j, a) => {
      const v = x[a] as number;
      if (v < worstValue) {
        worstValue = v;
        worst = j;
      }
      out[j] = v / (scale[j] as number);
    });
    if (worst < 0) return out;
    free[worst] = false;
  }
}

/** A coefficient dropped to 0 by the fit still needs a finite fraction: this many seconds stands for "free". */
const NEGLIGIBLE = 1e-15;

/**
 * Fits an `EngineProfile` to measured step times. The step terms of `TERMS` are fitted by
 * non-negative least squares of relative error and written into the profile's fields:
 * step → cpuOverhead.baseSeconds; sequence → cpuOverhead.perSeqSeconds (less the LM head's
 * per-token cost); token → linearMfu; decodeKvToken → kvBandwidthFraction; prefillStep →
 * prefillAttentionLayerSeconds × layers; prefillPair → attentionFlopsFraction.
 * weightBandwidthFraction is 1 (weights read at the nominal bandwidth: the memory term is then
 * part of the fixed cost and, for a small model in cache, negligible); the decode-attention
 * fixed cost and the prefill per-token attention cost are 0 (not separable from the step and
 * token terms). Swap = perTransfer + bytes / bandwidth fitted to the mean of out and in.
 * The returned rows evaluate the finished profile with `stepSeconds` itself.
 * Throws `ConfigError` with fewer step points than terms or no swap point.
 */
export function fitProfileToSteps(input: StepFitInput): StepFit {
  if (input.steps.length < TERMS.length) throw new ConfigError(`a step fit needs at least ${TERMS.length} points, got ${input.steps.length}`);
  if (input.swaps.length === 0) throw new ConfigError('a step fit needs at least one swap point');
  const { model, gpu } = input;
  const [step, sequence, token, decodeKv, prefillStep, pair] = nonNegativeRelativeFit(
    input.steps.map((s) => features(s.shapes)),
    input.steps.map((s) => s.seconds),
  ) as [number, number, number, number, number, number];
  const headSecondsPerToken = (2 * model.vocab * model.hidden) / gpu.peakFlops;
  const linearMfu = (2 * decoderParams(model)) / (gpu.peakFlops * Math.max(token, NEGLIGIBLE));
  const swapFit = fitSwap(input.swaps, kvBytesPerToken(model));
  const profile: EngineProfile = {
    name: input.name,
    description: input.description,
    model,
    gpu: { ...gpu, hostLinkBandwidth: swapFit.bandwidth },
    tp: 1,
    blockSize: input.blockSize,
    kvCapacityTokens: Math.floor(input.kvCapacityTokens / input.blockSize) * input.blockSize,
    memory: { gpuMemoryUtilization: 1, activationReserveBytes: 0 },
    kernel: {
      weightBandwidthFraction: 1,
      linearMfu,
      kvBandwidthFraction: kvBytesPerToken(model) / (gpu.hbmBandwidth * Math.max(decodeKv, NEGLIGIBLE)),
      decodeAttentionLayerSeconds: 0,
      attentionFlopsFraction: (4 * model.layers * model.heads * model.headDim) / (gpu.peakFlops * Math.max(pair, NEGLIGIBLE)),
      prefillAttentionLayerSeconds: prefillStep / model.layers,
      prefillAttentionTokenSeconds: 0,
    },
    allReduce: { latencySeconds: 0, bandwidthBytesPerSecond: Number.MAX_VALUE },
    cpuOverhead: { baseSeconds: step, perSeqSeconds: Math.max(0, sequence - headSecondsPerToken / linearMfu) },
    swap: { perTransferSeconds: swapFit.perTransfer, bandwidthBytesPerSecond: swapFit.bandwidth, restoreStallSeconds: 0 },
    sources: input.sources,
  };
  const rows = input.steps.map((s) => row(s.label, s.seconds, s.shapes.reduce((t, shape) => t + stepSeconds(profile, shape), 0)));
  const swapRows = input.swaps.map((s) => row(`swap ${s.tokens} tokens (mean of out, in)`, (s.outSeconds + s.inSeconds) / 2, swapSeconds(profile, s.tokens)));
  const errors = rows.map((r) => Math.abs(r.errorPct));
  return {
    profile,
    rows,
    swapRows,
    meanAbsErrorPct: errors.reduce((a, b) => a + b, 0) / errors.length,
    maxAbsErrorPct: Math.max(...errors),
  };
}

function row(label: string, measured: number, predicted: number): StepFitRow {
  return { label, measuredMs: measured * 1000, predictedMs: predicted * 1000, errorPct: (100 * (predicted - measured)) / measured };
}

/** perTransfer + bytes / bandwidth through the swap points (least squares of relative error, both ≥ 0). */
function fitSwap(swaps: readonly MeasuredSwap[], bytesPerToken: number): { perTransfer: number; bandwidth: number } {
  const [perTransfer, perByte] = nonNegativeRelativeFit(
    swaps.map((s) => [1, s.tokens * bytesPerToken]),
    swaps.map((s) => (s.outSeconds + s.inSeconds) / 2),
  ) as [number, number];
  return { perTransfer, bandwidth: 1 / Math.max(perByte, NEGLIGIBLE) };
}

/**
 * The profile with every step-time term multiplied by `factor` (> 0), so that
 * `stepSeconds(scaled, s) = factor × stepSeconds(profile, s)` for every shape: CPU overhead and
 * fixed kernel costs times `factor`, efficiency fractions and bandwidths divided by it. Swap and
 * capacity are unchanged. For a machine whose steps run uniformly slower under load than when
 * calibrated idle. Throws `ConfigError` for a factor that is not a positive finite number.
 */
export function scaleStepTime(profile: EngineProfile, factor: number): EngineProfile {
  if (!(factor > 0 && Number.isFinite(factor))) throw new ConfigError(`step-time factor ${factor} must be a positive number`);
  const k = profile.kernel;
  return {
    ...profile,
    name: `${profile.name} ×${factor.toFixed(3)}`,
    kernel: {
      weightBandwidthFraction: k.weightBandwidthFraction / factor,
      linearMfu: k.linearMfu / factor,
      kvBandwidthFraction: k.kvBandwidthFraction / factor,
      decodeAttentionLayerSeconds: k.decodeAttentionLayerSeconds * factor,
      attentionFlopsFraction: k.attentionFlopsFraction / factor,
      prefillAttentionLayerSeconds: k.prefillAttentionLayerSeconds * factor,
      prefillAttentionTokenSeconds: k.prefillAttentionTokenSeconds * factor,
    },
    allReduce: {
      latencySeconds: profile.allReduce.latencySeconds * factor,
      bandwidthBytesPerSecond: profile.allReduce.bandwidthBytesPerSecond / factor,
    },
    cpuOverhead: { baseSeconds: profile.cpuOverhead.baseSeconds * factor, perSeqSeconds: profile.cpuOverhead.perSeqSeconds * factor },
  };
}

/**
 * The profile with its compute terms multiplied by `factor` (> 0): the linear layers' and the
 * attention's FLOP rates divided by it and the prefill attention's fixed costs times it.
 * Memory-bound terms (weight and KV reads, decode attention's fixed cost), CPU overhead, swap
 * and capacity are unchanged, so prompt steps, which are compute-bound, take about `factor`
 * times as long, and decode steps nearly what they did. For a machine whose prompt work runs
 * slower under load than when calibrated idle, measured apart from its decode steps. Throws
 * `ConfigError` for a factor that is not a positive finite number.
 */
export function scaleComputeTime(profile: EngineProfile, factor: number): EngineProfile {
  if (!(factor > 0 && Number.isFinite(factor))) throw new ConfigError(`compute-time factor ${factor} must be a positive number`);
  const k = profile.kernel;
  return {
    ...profile,
    name: `${profile.name} compute ×${factor.toFixed(3)}`,
    kernel: {
      ...k,
      linearMfu: k.linearMfu / factor,
      attentionFlopsFraction: k.attentionFlopsFraction / factor,
      prefillAttentionLayerSeconds: k.prefillAttentionLayerSeconds * factor,
      prefillAttentionTokenSeconds: k.prefillAttentionTokenSeconds * factor,
    },
  };
}

/**
 * The profile with every swap-in stalling the engine `seconds` (≥ 0) more
 * (`swap.restoreStallSeconds`, replacing the profile's own); nothing else changes. For an engine
 * whose restores pause all running sequences, with the pause measured under load. Throws
 * `ConfigError` for a value that is not a non-negative finite number.
 */
export function withRestoreStall(profile: EngineProfile, seconds: number): EngineProfile {
  if (!(seconds >= 0 && Number.isFinite(seconds))) throw new ConfigError(`restore stall ${seconds} s must be a non-negative number`);
  return { ...profile, name: `${profile.name} +${(seconds * 1000).toFixed(1)} ms a restore`, swap: { ...profile.swap, restoreStallSeconds: seconds } };
}

/** A step-time cost added to every step: `baseSeconds` plus `perSeqSeconds` per sequence in it. */
export interface StepOverhead {
  readonly baseSeconds: number;
  readonly perSeqSeconds: number;
}

/**
 * The profile with `extra` added to its CPU overhead, so that every step of `n` sequences takes
 * `extra.baseSeconds + n · extra.perSeqSeconds` longer whatever its kernels cost. For a machine
 * whose steps under load each wait a roughly fixed time more (for a busy event loop or a shared
 * core to dispatch them) than when calibrated idle, where `scaleStepTime` would stretch long
 * prompt steps as much as short decode ones. Throws `ConfigError` unless both terms are
 * non-negative finite numbers.
 */
export function addStepOverhead(profile: EngineProfile, extra: StepOverhead): EngineProfile {
  for (const v of [extra.baseSeconds, extra.perSeqSeconds]) {
    if (!(v >= 0 && Number.isFinite(v))) throw new ConfigError(`step overhead ${v} s must be a non-negative number`);
  }
  return {
    ...profile,
    name: `${profile.name} +${(extra.baseSeconds * 1000).toFixed(2)} ms +${(extra.perSeqSeconds * 1000).toFixed(2)} ms/seq a step`,
    cpuOverhead: {
      baseSeconds: profile.cpuOverhead.baseSeconds + extra.baseSeconds,
      perSeqSeconds: profile.cpuOverhead.perSeqSeconds + extra.perSeqSeconds,
    },
  };
}

/** Steps of one batch size as measured against a profile: how many, and their mean extra time over it (s, may be negative). */
export interface StepExcess {
  readonly batch: number;
  readonly samples: number;
  readonly extraSeconds: number;
}

/**
 * The `StepOverhead` that best explains `points` (least squares weighted by samples of
 * `extraSeconds ≈ base + perSeq · batch`), with both terms kept non-negative: a negative slope
 * gives a flat overhead (the weighted mean excess), a negative intercept a line through zero, and
 * a negative fit a zero overhead. Empty input (or no samples) gives zero.
 */
export function fitStepOverhead(points: readonly StepExcess[]): StepOverhead {
  let sw = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const w = p.samples;
    sw += w;
    sx += w * p.batch;
    sy += w * p.extraSeconds;
    sxx += w * p.batch * p.batch;
    sxy += w * p.batch * p.extraSeconds;
  }
  if (sw <= 0) return { baseSeconds: 0, perSeqSeconds: 0 };
  const det = sw * sxx - sx * sx;
  let perSeq = det > 0 ? (sw * sxy - sx * sy) / det : 0;
  let base = (sy - perSeq * sx) / sw;
  if (perSeq < 0) {
    perSeq = 0;
    base = sy / sw;
  }
  if (base < 0) {
    base = 0;
    perSeq = sxx > 0 ? sxy / sxx : 0;
  }
  return { baseSeconds: Math.max(0, base), perSeqSeconds: Math.max(0, perSeq) };
}
