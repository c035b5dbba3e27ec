import { UnknownNameError } from '@autellix/core';
import { describe, expect, it } from 'vitest';
import { kvBytesPerToken, kvCapacityBlocks, swapSeconds, vllmKvCapacityTokens } from '../src/profile.ts';
import { getProfile, ProfileName, profileNames } from '../src/profiles.ts';
import { a100Sxm80gb, decoderParams, GIB, llama31_8b, llama31_70b, lmHeadParams } from '../src/specs.ts';
import { kernelSeconds } from '../src/step-time.ts';

describe('model specs', () => {
  it('decoder + embedding + LM head parameters add up to the published totals (±1 %)', () => {
    for (const m of [llama31_8b, llama31_70b]) {
      const sum = decoderParams(m) + 2 * lmHeadParams(m);
      expect(Math.abs(sum - m.params) / m.params, m.name).toBeLessThan(0.01);
    }
    // 8B decoder weights are 13.96 GB in bf16 (timings doc §0 sanity check).
    expect((decoderParams(llama31_8b) * 2) / 1e9).toBeCloseTo(13.96, 1);
  });
});

describe('KV memory', () => {
  it('kvBytesPerToken: 128 KiB for 8B, 320 KiB for 70B', () => {
    expect(kvBytesPerToken(llama31_8b)).toBe(131072);
    expect(kvBytesPerToken(llama31_70b)).toBe(327680);
  });

  it('capacities follow vLLM accounting and land in the timings doc §4 ranges', () => {
    const p8 = getProfile(ProfileName.llama31_8b_a100);
    expect(p8.kvCapacityTokens).toBeGreaterThanOrEqual(430_000);
    expect(p8.kvCapacityTokens).toBeLessThanOrEqual(450_000);
    expect(getProfile(ProfileName.llama31_8b_h100).kvCapacityTokens).toBe(p8.kvCapacityTokens);
    for (const name of [ProfileName.llama31_70b_4xa100, ProfileName.llama31_70b_4xh100]) {
      const c = getProfile(name).kvCapacityTokens;
      expect(c).toBeGreaterThanOrEqual(460_000);
      expect(c).toBeLessThanOrEqual(470_000);
    }
    for (const name of profileNames) {
      const p = getProfile(name);
      expect(p.kvCapacityTokens % p.blockSize).toBe(0);
      expect(kvCapacityBlocks(p)).toBe(p.kvCapacityTokens / p.blockSize);
      expect(vllmKvCapacityTokens(p)).toBe(p.kvCapacityTokens);
    }
  });

  it('vllmKvCapacityTokens: hand-computed 8B pool, 70B at TP2 ≈ 23 k tokens, 70B on one GPU does not fit', () => {
    const memory = { gpuMemoryUtilization: 0.9, activationReserveBytes: 2.5 * GIB };
    const pool = 0.9 * a100Sxm80gb.memoryBytes - 8.03e9 * 2 - 2.5 * GIB;
    const expected = Math.floor(pool / (16 * 131072)) * 16;
    expect(vllmKvCapacityTokens({ model: llama31_8b, gpu: a100Sxm80gb, tp: 1, blockSize: 16, memory })).toBe(expected);
    const tp2 = vllmKvCapacityTokens({ model: llama31_70b, gpu: a100Sxm80gb, tp: 2, blockSize: 16, memory });
    expect(tp2).toBeGreaterThan(15_000);
    expect(tp2).toBeLessThan(30_000);
    expect(vllmKvCapacityTokens({ model: llama31_70b, gpu: a100Sxm80gb, tp: 1, blockSize: 16, memory })).toBe(0);
  });
});

describe('swapSeconds', () => {
  it('is 0 for no tokens and one transfer + bytes / host link otherwise', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    expect(swapSeconds(p, 0)).toBe(0);
    // 2048 tokens × 128 KiB = 256 MiB over 25 GB/s ≈ 10.7 ms (timings doc §7: ≥ 10 ms).
    expect(swapSeconds(p, 2048)).toBeCloseTo(10e-6 + (2048 * 131072) / 25e9, 12);
    expect(swapSeconds(p, 4096) - swapSeconds(p, 2048)).toBeCloseTo((2048 * 131072) / 25e9, 12);
  });

  it('is cheaper on H100 (PCIe 5) and shards across GPUs at TP4', () => {
    const a = getProfile(ProfileName.llama31_8b_a100);
    const h = getProfile(ProfileName.llama31_8b_h100);
    expect(swapSeconds(h, 2048)).toBeLessThan(swapSeconds(a, 2048) * 0.55);
    const big = getProfile(ProfileName.llama31_70b_4xa100);
    // 320 KiB/token split over 4 links = 80 KiB per GPU per token.
    expect(swapSeconds(big, 1000)).toBeCloseTo(10e-6 + (1000 * 81920) / 25e9, 12);
  });

  it('swapping a 2 k-token context is far cheaper than recomputing it (timings doc §7)', () => {
    const p = getProfile(ProfileName.llama31_8b_a100);
    const recompute = kernelSeconds(p, {
      decodeSeqs: 0,
      decodeContextTokens: 0,
      prefillTokens: 2048,
      prefillSeqs: 1,
      prefillAttentionPairs: (2048 * 2048) / 2,
    });
    expect(recompute).toBeGreaterThan(5 * swapSeconds(p, 2048));
  });
});

describe('profile registry', () => {
  it('lists the required profiles and returns them by name', () => {
    for (const name of ['llama3.1-8b-a100', 'llama3.1-70b-4xa100', 'llama3.1-8b-h100']) {
      expect(profileNames).toContain(name);
      expect(getProfile(name).name).toBe(name);
    }
    expect(getProfile('llama3.1-70b-4xa100').tp).toBe(4);
    expect(new Set(profileNames).size).toBe(profileNames.length);
  });

  it('throws UnknownNameError listing the known names', () => {
    expect(() => getProfile('llama3.1-8b-a10')).toThrow(UnknownNameError);
    try {
      getProfile('nope');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(UnknownNameError);
      const err = e as UnknownNameError;
      expect(err.code).toBe('unknown_name');
      expect(err.known).toEqual(profileNames);
      expect(err.message).toContain('llama3.1-8b-a100');
    }
  });

  it('every profile has physical constants and sources', () => {
    for (const name of profileNames) {
      const p = getProfile(name);
      const k = p.kernel;
      for (const f of [k.weightBandwidthFraction, k.linearMfu, k.kvBandwidthFraction, k.attentionFlopsFraction]) {
        expect(f, name).toBeGreaterThan(0);
        expect(f, name).toBeLessThanOrEqual(1);
      }
      expect(p.blockSize).toBe(16);
      expect(Number.isInteger(p.tp) && p.tp >= 1).toBe(true);
      expect(p.sources.length).toBeGreaterThan(0);
      expect(p.swap.bandwidthBytesPerSecond).toBe(p.gpu.hostLinkBandwidth);
      if (p.tp > 1) expect(Number.isFinite(p.allReduce.bandwidthBytesPerSecond)).toBe(true);
    }
  });
});
