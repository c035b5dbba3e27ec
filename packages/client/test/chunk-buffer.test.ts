import { describe, expect, it } from 'vitest';
import { ChunkBuffer } from '../src/chunk-buffer.ts';
import { estimatePromptTokens } from '../src/index.ts';

async function drain(b: ChunkBuffer): Promise<number[]> {
  const out: number[] = [];
  for await (const c of b.read()) out.push(c.index);
  return out;
}

describe('ChunkBuffer', () => {
  it('holds chunks behind a gap until it fills, and drops repeated indexes', async () => {
    const b = new ChunkBuffer();
    const reading = drain(b);
    expect(b.push({ index: 2, text: 'c', tokens: 1 })).toBe(true);
    expect(b.push({ index: 0, text: 'a', tokens: 1 })).toBe(true);
    expect(b.push({ index: 0, text: 'a', tokens: 1 })).toBe(false);
    expect(b.push({ index: 1, text: 'b', tokens: 1 })).toBe(true);
    b.finish();
    expect(await reading).toEqual([0, 1, 2]);
  });

  it('on finish delivers held chunks across a gap in order, then ignores late chunks', async () => {
    const b = new ChunkBuffer();
    b.push({ index: 0, text: 'a', tokens: 1 });
    b.push({ index: 3, text: 'd', tokens: 1 });
    b.push({ index: 2, text: 'c', tokens: 1 });
    b.finish();
    expect(b.push({ index: 1, text: 'b', tokens: 1 })).toBe(false);
    expect(await drain(b)).toEqual([0, 2, 3]);
  });

  it('ends readers with the error after the delivered chunks', async () => {
    const b = new ChunkBuffer();
    b.push({ index: 0, text: 'a', tokens: 1 });
    const boom = new Error('boom');
    b.finish(boom);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const c of b.read()) seen.push(c.index);
      })(),
    ).rejects.toBe(boom);
    expect(seen).toEqual([0]);
  });
});

describe('estimatePromptTokens', () => {
  it('counts a token per 4 characters of prompt and message contents, at least 1', () => {
    expect(estimatePromptTokens({})).toBeNull();
    expect(estimatePromptTokens({ prompt: '' })).toBe(1);
    expect(estimatePromptTokens({ prompt: 'abcde' })).toBe(2);
    expect(estimatePromptTokens({ prompt: 'abcd', messages: [{ role: 'user', content: 'efgh' }] })).toBe(2);
  });
});
