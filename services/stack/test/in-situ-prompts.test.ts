import { LLAMA_BATCH_TOKENS } from '@autellix/engine';
import { getProfile, stepSeconds } from '@autellix/engine-model';
import { describe, expect, it } from 'vitest';
import { promptChunkSeconds, promptComputeFactor } from '../src/in-situ-prompts.ts';

const profile = getProfile('llama3.1-8b-a100');

describe('promptChunkSeconds', () => {
  it('is one prompt step when nothing decodes beside the chunk', () => {
    const alone = stepSeconds(profile, { decodeSeqs: 0, decodeContextTokens: 0, prefillTokens: LLAMA_BATCH_TOKENS, prefillSeqs: 1, prefillAttentionPairs: LLAMA_BATCH_TOKENS * (100 + LLAMA_BATCH_TOKENS / 2) });
    expect(promptChunkSeconds(profile, 0, 100, 0)).toBeCloseTo(alone, 12);
  });

  it('splits the chunk over two steps beside decodes, as the engine model budgets them', () => {
    const first = LLAMA_BATCH_TOKENS - 3;
    const a = stepSeconds(profile, { decodeSeqs: 3, decodeContextTokens: 900, prefillTokens: first, prefillSeqs: 1, prefillAttentionPairs: first * (100 + first / 2) });
    const b = stepSeconds(profile, { decodeSeqs: 3, decodeContextTokens: 903, prefillTokens: 3, prefillSeqs: 1, prefillAttentionPairs: 3 * (100 + first + 1.5) });
    expect(promptChunkSeconds(profile, 3, 100, 900)).toBeCloseTo(a + b, 12);
    // Decodes beside it only add time.
    expect(promptChunkSeconds(profile, 3, 100, 900)).toBeGreaterThan(promptChunkSeconds(profile, 0, 100, 0));
  });
});

describe('promptComputeFactor', () => {
  it('weights each group of chunks by its count, and is 1 with no chunk timed', () => {
    const alone = 1000 * promptChunkSeconds(profile, 0, 0, 0);
    const beside = 1000 * promptChunkSeconds(profile, 4, 200, 2400);
    const chunks = [
      { decoders: 0, samples: 1, meanContext: 0, meanDecodeContext: 0, measuredMs: 2 * alone, predictedMs: alone },
      { decoders: 4, samples: 3, meanContext: 200, meanDecodeContext: 600, measuredMs: beside, predictedMs: beside },
    ];
    expect(promptComputeFactor(chunks, profile)).toBeCloseTo((2 * alone + 3 * beside) / (alone + 3 * beside), 12);
    expect(promptComputeFactor([], profile)).toBe(1);
  });
});
