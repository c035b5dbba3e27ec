import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEngineOptions } from '@autellix/engine-model';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateLlamaProfile, gridWithin, llamaEngineOptions, measuredSteps, prefillChunks } from '../src/llama/calibrate-llama.ts';
import { DEFAULT_LLAMA_BACKEND, LLAMA_BATCH_TOKENS } from '../src/llama/llama-backend.ts';
import type { StepTimingGrid } from '../src/llama/step-timings.ts';
import { DEFAULT_STEP_TIMING_GRID, measureLlamaSteps } from '../src/llama/step-timings.ts';
import { tinyLlamaModelSpec, writeTinyLlamaGguf } from '../src/llama/tiny-gguf.ts';

const SMALL_GRID: StepTimingGrid = {
  decodeBatches: [1, 2],
  decodeContexts: [32, 200],
  decodeSteps: 6,
  prefillTokens: [16, 64, 128, 600],
  swapContexts: [64, 400],
  repeats: 1,
};

describe('calibrating an engine-model profile on the llama backend', () => {
  let dir: string;
  let modelPath: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autellix-calibrate-'));
    modelPath = join(dir, 'tiny.gguf');
    writeTinyLlamaGguf(modelPath);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('splits a long prompt into llama.cpp batches, each attending to the chunks before it', () => {
    const chunks = prefillChunks(LLAMA_BATCH_TOKENS * 2 + 76);
    expect(chunks.map((c) => c.prefillTokens)).toEqual([LLAMA_BATCH_TOKENS, LLAMA_BATCH_TOKENS, 76]);
    expect(chunks[2]?.prefillAttentionPairs).toBe(76 * (2 * LLAMA_BATCH_TOKENS + 38));
    expect(prefillChunks(16)).toEqual([{ decodeSeqs: 0, decodeContextTokens: 0, prefillTokens: 16, prefillSeqs: 1, prefillAttentionPairs: 128 }]);
  });

  it('keeps only the grid points a context holds', () => {
    const g = gridWithin(DEFAULT_STEP_TIMING_GRID, 1024, 8);
    expect(g.decodeContexts.every((c) => c + g.decodeSteps + 2 <= 1024)).toBe(true);
    expect(g.prefillTokens).not.toContain(2048);
    expect(g.swapContexts).not.toContain(2048);
    expect(g.decodeBatches).toEqual(DEFAULT_STEP_TIMING_GRID.decodeBatches);
    // Fewer sequences than the grid's largest batch: the engine's fullest batch is measured instead.
    expect(DEFAULT_STEP_TIMING_GRID.decodeBatches).toContain(8);
    expect(gridWithin(DEFAULT_STEP_TIMING_GRID, 1024, 4).decodeBatches).toEqual(DEFAULT_STEP_TIMING_GRID.decodeBatches.filter((b) => b <= 4));
    const six = gridWithin(DEFAULT_STEP_TIMING_GRID, 1024, 6).decodeBatches;
    expect(Math.max(...six)).toBe(6);
    expect(six.every((b) => b <= 6)).toBe(true);
  });

  it('describes the tiny model with its real shapes', () => {
    const m = tinyLlamaModelSpec();
    expect(m).toMatchObject({ layers: 2, hidden: 64, heads: 4, kvHeads: 4, headDim: 16, intermediate: 128, vocab: 260 });
  });

  it('refuses a grid the context cannot run', async () => {
    const config = { ...DEFAULT_LLAMA_BACKEND, modelPath, sequences: 2, contextSize: 256 };
    await expect(measureLlamaSteps(config, { ...SMALL_GRID, decodeBatches: [4] })).rejects.toThrow(/over the 2 sequences/);
    await expect(measureLlamaSteps(config, SMALL_GRID)).rejects.toThrow(/over the context of 256/);
    // One decode step per call leaves no gap between two tokens to time.
    const tiny = { ...SMALL_GRID, decodeBatches: [1], decodeContexts: [16], decodeSteps: 0, prefillTokens: [16], swapContexts: [16] };
    await expect(measureLlamaSteps(config, tiny)).rejects.toThrow(/no timing for decode b=1 ctx=16/);
  });

  it('measures every grid point and fits a profile the simulator can use', async () => {
    const config = { ...DEFAULT_LLAMA_BACKEND, modelPath, sequences: 2, contextSize: 1024 };
    const { timings, fit } = await calibrateLlamaProfile(config, SMALL_GRID);
    expect(timings.decode.map((d) => [d.batch, d.meanContext])).toEqual([
      [1, 36],
      [2, 36],
      [1, 204],
      [2, 204],
    ]);
    expect(timings.prefill.map((p) => p.tokens)).toEqual([16, 64, 128, 600]);
    expect(timings.swap.map((s) => s.context)).toEqual([64, 400]);
    for (const t of [...timings.decode, ...timings.prefill]) expect(t.ms).toBeGreaterThan(0);
    for (const s of timings.swap) expect(Math.min(s.inMs, s.outMs)).toBeGreaterThan(0);
    // The 600-token prompt is two steps (512 + 88).
    expect(measuredSteps(timings).at(-1)?.shapes.length).toBe(2);
    expect(fit.rows.length).toBe(8);
    expect(fit.profile.kvCapacityTokens).toBe(2048);
    expect(fit.profile.model.name).toBe(tinyLlamaModelSpec().name);
    const k = fit.profile.kernel;
    for (const v of [k.linearMfu, k.kvBandwidthFraction, k.attentionFlopsFraction, fit.profile.swap.bandwidthBytesPerSecond]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
    expect(Number.isFinite(fit.meanAbsErrorPct)).toBe(true);
    const options = validateEngineOptions(llamaEngineOptions(config));
    expect(options).toMatchObject({ maxBatchSeqs: 2, maxBatchTokens: LLAMA_BATCH_TOKENS, prefixCache: false, chunkedPrefill: true, maxContextTokens: 1024 });
  });
});
