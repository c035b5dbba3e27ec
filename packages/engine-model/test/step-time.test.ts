import { describe, expect, it } from 'vitest';
import type { EngineProfile } from '../src/profile.ts';
import { getProfile, ProfileName, profileNames } from '../src/profiles.ts';
import { decoderParams } from '../src/specs.ts';
import { cpuOverheadSeconds, kernelSeconds, stepSeconds } from '../src/step-time.ts';
import type { StepShape } from '../src/types.ts';

function decode(seqs: number, context: number): StepShape {
  return {
    decodeSeqs: seqs,
    decodeContextTokens: seqs * context,
    prefillTokens: 0,
    prefillSeqs: 0,
    prefillAttentionPairs: 0,
  };
}

/** One prefill chunk of `chunk` tokens on top of `cached` tokens, plus `seqs` decodes at `context`. */
function mixed(seqs: number, context: number, chunk: number, cached: number): StepShape {
  return {
    decodeSeqs: seqs,
    decodeContextTokens: seqs * context,
    prefillTokens: chunk,
    prefillSeqs: chunk > 0 ? 1 : 0,
    prefillAttentionPairs: chunk * (cached + chunk / 2),
  };
}

const EMPTY: StepShape = decode(0, 0);

describe('kernelSeconds', () => {
  it('is 0 for an empty step and positive otherwise', () => {
    for (const name of profileNames) {
      const p = getProfile(name);
      expect(kernelSeconds(p, EMPTY)).toBe(0);
      expect(stepSeconds(p, EMPTY)).toBe(0);
      expect(kernelSeconds(p, decode(1, 1))).toBeGreaterThan(0);
    }
  });

  it('small-batch decode is weight-bandwidth bound: ≈ decoder bytes / (HBM × fraction)', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    const weightRead = (decoderParams(p.model) * 2) / (p.gpu.hbmBandwidth * p.kernel.weightBandwidthFraction);
    const t = kernelSeconds(p, decode(1, 16));
    expect(t).toBeGreaterThan(weightRead);
    expect(t).toBeLessThan(weightRead * 1.15);
    // And the 8B/A100 memory-bound step is ~11 ms (timings doc §8: 11.2 ms).
    expect(t).toBeGreaterThan(0.0105);
    expect(t).toBeLessThan(0.0125);
  });

  it('more tokens never make a step faster (decode batch, prefill chunk, mixed)', () => {
    for (const name of profileNames) {
      const p = getProfile(name);
      let prev = 0;
      for (let b = 0; b <= 512; b += 1) {
        const t = kernelSeconds(p, decode(b, 1024));
        expect(t, `${name} b=${b}`).toBeGreaterThanOrEqual(prev);
        prev = t;
      }
      prev = 0;
      for (let n = 0; n <= 16384; n += 64) {
        const t = kernelSeconds(p, mixed(16, 2048, n, 4096));
        expect(t, `${name} chunk=${n}`).toBeGreaterThanOrEqual(prev);
        prev = t;
      }
    }
  });

  it('more context never makes a step faster (decode KV and prefill cached prefix)', () => {
    for (const name of profileNames) {
      const p = getProfile(name);
      let prevDecode = 0;
      let prevPrefill = 0;
      for (let ctx = 0; ctx <= 32768; ctx += 256) {
        const td = kernelSeconds(p, decode(32, ctx));
        const tp = kernelSeconds(p, mixed(0, 0, 512, ctx));
        expect(td, `${name} ctx=${ctx}`).toBeGreaterThanOrEqual(prevDecode);
        expect(tp, `${name} cached=${ctx}`).toBeGreaterThanOrEqual(prevPrefill);
        prevDecode = td;
        prevPrefill = tp;
      }
      expect(prevDecode).toBeGreaterThan(kernelSeconds(p, decode(32, 0)));
      expect(prevPrefill).toBeGreaterThan(kernelSeconds(p, mixed(0, 0, 512, 0)));
    }
  });

  it('chunking a prompt never costs less kernel time in total than one whole prefill', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    const n = 8192;
    const whole = kernelSeconds(p, mixed(0, 0, n, 0));
    for (const chunk of [512, 1024, 2048, 4096]) {
      let total = 0;
      for (let done = 0; done < n; done += chunk) total += kernelSeconds(p, mixed(0, 0, chunk, done));
      expect(total, `chunk=${chunk}`).toBeGreaterThan(whole);
    }
  });

  it('prefill is compute bound: 8B/A100 prefill throughput is 12–15 k tokens/s at 2–4 k tokens', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    for (const n of [2048, 4096]) {
      const rate = n / kernelSeconds(p, mixed(0, 0, n, 0));
      expect(rate).toBeGreaterThan(12_000);
      expect(rate).toBeLessThan(15_000);
    }
  });

  it('attention terms match the measured 8B/A100 attention components (timings doc §1b, ±15 %)', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    const noAttention: EngineProfile = {
      ...p,
      kernel: {
        ...p.kernel,
        kvBandwidthFraction: Number.POSITIVE_INFINITY,
        decodeAttentionLayerSeconds: 0,
        attentionFlopsFraction: Number.POSITIVE_INFINITY,
        prefillAttentionLayerSeconds: 0,
        prefillAttentionTokenSeconds: 0,
      },
    };
    const attentionMs = (s: StepShape): number => (kernelSeconds(p, s) - kernelSeconds(noAttention, s)) * 1000;
    // attn_prefill per layer (batch 1, kv 0) × 32 layers: causal FLOPs = 2 · n² · hidden per layer.
    const prefillPerLayer: [number, number][] = [
      [1024, 0.109],
      [2048, 0.317],
      [4096, 0.961],
      [8192, 3.398],
    ];
    for (const [n, ms] of prefillPerLayer) {
      const got = attentionMs(mixed(0, 0, n, 0));
      expect(Math.abs(got / (32 * ms) - 1), `prefill ${n}`).toBeLessThan(0.15);
    }
    // attn_decode per layer: HBM-bound KV reads.
    const decodePerLayer: [number, number, number][] = [
      [64, 8192, 1.349],
      [256, 2048, 1.233],
      [32, 2048, 0.177],
    ];
    for (const [b, ctx, ms] of decodePerLayer) {
      const got = attentionMs(decode(b, ctx));
      expect(Math.abs(got / (32 * ms) - 1), `decode ${b}x${ctx}`).toBeLessThan(0.15);
    }
  });

  it('adds two all-reduces per layer only when tp > 1', () => {
    const p = getProfile(ProfileName.llama31_70b_4xa100);
    const noNet: EngineProfile = {
      ...p,
      allReduce: { latencySeconds: 0, bandwidthBytesPerSecond: Number.POSITIVE_INFINITY },
    };
    const shape = decode(64, 1024);
    const expected = 2 * 80 * (p.allReduce.latencySeconds + (64 * 8192 * 2) / p.allReduce.bandwidthBytesPerSecond);
    expect(kernelSeconds(p, shape) - kernelSeconds(noNet, shape)).toBeCloseTo(expected, 12);

    const tp1 = getProfile(ProfileName.llama31_8b_a100);
    const slowNet: EngineProfile = { ...tp1, allReduce: { latencySeconds: 1, bandwidthBytesPerSecond: 1 } };
    expect(kernelSeconds(slowNet, shape)).toBe(kernelSeconds(tp1, shape));
  });

  it('H100 is faster than A100 for the same 8B step', () => {
    const a = getProfile(ProfileName.llama31_8b_a100);
    const h = getProfile(ProfileName.llama31_8b_h100);
    for (const s of [decode(1, 512), decode(64, 2048), mixed(0, 0, 4096, 0)]) {
      expect(kernelSeconds(h, s)).toBeLessThan(kernelSeconds(a, s));
    }
  });
});

describe('stepSeconds', () => {
  it('is kernel time plus base + per-sequence CPU overhead', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    const shape = mixed(100, 1000, 256, 0);
    const cpu = p.cpuOverhead.baseSeconds + 101 * p.cpuOverhead.perSeqSeconds;
    expect(cpuOverheadSeconds(p, shape)).toBeCloseTo(cpu, 15);
    expect(stepSeconds(p, shape)).toBeCloseTo(kernelSeconds(p, shape) + cpu, 15);
    // Modern V1-like engine: 0.5–1 ms at moderate batch (timings doc §5).
    expect(cpu).toBeGreaterThanOrEqual(0.5e-3);
    expect(cpu).toBeLessThanOrEqual(1e-3);
  });
});
