import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CallAssign } from '@autellix/protocol';
import { ProtocolError } from '@autellix/protocol';
import type { Token } from 'node-llama-cpp';
import { readGgufFileInfo } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendSink, FinishedCall } from '../src/backend.ts';
import type { LlamaBackendConfig, LoadedLlama } from '../src/llama/llama-backend.ts';
import { DEFAULT_LLAMA_BACKEND, LlamaBackend, loadLlama } from '../src/llama/llama-backend.ts';
import { writeTinyLlamaGguf } from '../src/llama/tiny-gguf.ts';

async function eventually(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recorder() {
  const tokens = new Map<string, number>();
  const finished: FinishedCall[] = [];
  const failed: string[] = [];
  const sink: BackendSink = {
    tokens: (key, _t, n) => tokens.set(key, (tokens.get(key) ?? 0) + n),
    finished: (c) => finished.push(c),
    phase: () => {},
    failed: (key, m) => failed.push(`${key}: ${m}`),
  };
  return { sink, tokens, finished, failed };
}

function assign(callId: string, level: number, maxTokens: number, prompt = `the prompt of ${callId}`): CallAssign {
  return {
    type: 'call.assign',
    v: 1,
    engineId: 'llama-0',
    attempt: 0,
    sessionId: 's',
    callId,
    threadId: 'main',
    parents: [],
    promptTokens: prompt.length,
    maxTokens,
    prompt,
    replyTo: '_INBOX.x',
    stream: true,
    level,
    key: 0,
    seq: level,
  };
}

describe('the llama backend on a generated tiny GGUF model', () => {
  let dir: string;
  let modelPath: string;
  const loaded: LoadedLlama[] = [];
  const load = async (over: Partial<LlamaBackendConfig>): Promise<{ config: LlamaBackendConfig; model: LoadedLlama }> => {
    const config = { ...DEFAULT_LLAMA_BACKEND, modelPath, contextSize: 512, ignoreEos: true, ...over };
    const model = await loadLlama(config);
    loaded.push(model);
    return { config, model };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'autellix-tiny-'));
    modelPath = join(dir, 'tiny.gguf');
    writeTinyLlamaGguf(modelPath);
  });
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a GGUF file llama.cpp reads as a llama model', async () => {
    const info = await readGgufFileInfo(modelPath);
    expect(info.metadata.general.architecture).toBe('llama');
    expect((info.metadata as { llama?: { block_count?: number } }).llama?.block_count).toBe(2);
    expect(info.fullTensorInfo?.length).toBe(3 + 2 * 9);
  });

  for (const [preemption, spareSequences] of [
    ['swap', 2],
    ['swap', 0],
    ['recompute', 2],
  ] as const) {
    it(`preempts for a better call by ${preemption} (${spareSequences} spare sequences) and resumes to the same greedy output`, async () => {
      const { config, model } = await load({ sequences: 1, spareSequences, preemption });
      // The reference: the long call alone.
      const alone = recorder();
      const ref = new LlamaBackend(model, config, () => performance.now(), alone.sink);
      ref.admit(assign('long', 2, 120));
      await eventually(() => alone.finished.length === 1);
      const rec = recorder();
      const b = new LlamaBackend(model, config, () => performance.now(), rec.sink);
      b.admit(assign('long', 2, 120));
      await eventually(() => (rec.tokens.get('s/long') ?? 0) >= 10);
      b.admit(assign('short', 0, 8));
      await eventually(() => rec.finished.length === 2);
      expect(rec.failed).toEqual([]);
      const [first, second] = rec.finished as [FinishedCall, FinishedCall];
      expect(first.key).toBe('s/short');
      expect(first.completionTokens).toBe(8);
      expect(second.key).toBe('s/long');
      expect(second.preemptions).toBe(1);
      expect(second.completionTokens).toBe(120);
      expect(rec.tokens.get('s/long')).toBe(120);
      expect(second.text).toBe(alone.finished[0]?.text);
      expect(second.wait).toBeGreaterThan(0);
      if (preemption === 'swap') expect(b.swapOuts).toBe(1);
    });
  }

  it('batches several sequences, and refuses a call longer than its context', async () => {
    const { config, model } = await load({ sequences: 3 });
    const rec = recorder();
    const b = new LlamaBackend(model, config, () => performance.now(), rec.sink);
    for (const id of ['a', 'b', 'c', 'd']) b.admit(assign(id, 1, 30));
    expect(b.load()).toMatchObject({ running: 3, queued: 1 });
    await eventually(() => rec.finished.length === 4);
    expect(rec.finished.map((f) => f.completionTokens)).toEqual([30, 30, 30, 30]);
    expect(() => b.admit(assign('huge', 0, 600))).toThrow(ProtocolError);
    // Pure decode steps were seen at batch 3 (all running past their prompts), never above the sequences.
    const gaps = b.decodeGaps();
    expect(gaps.get(3)?.samples ?? 0).toBeGreaterThan(0);
    expect(Math.max(...gaps.keys())).toBeLessThanOrEqual(3);
    for (const g of gaps.values()) expect(g.totalMs).toBeGreaterThan(0);
  });

  it('never runs more calls than its sequences: spare sequences only stand ready, clean', async () => {
    const { config, model } = await load({ sequences: 2, spareSequences: 3 });
    let most = 0;
    const rec = recorder();
    const b: LlamaBackend = new LlamaBackend(model, config, () => performance.now(), {
      ...rec.sink,
      tokens: (key, text, n) => {
        rec.sink.tokens(key, text, n);
        most = Math.max(most, b.load().running);
      },
    });
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) b.admit(assign(id, 1, 12, 'one prompt for all'));
    expect(b.load()).toMatchObject({ running: 2, queued: 4 });
    await eventually(() => rec.finished.length === 6);
    expect(most).toBe(2);
    expect(rec.finished.map((f) => f.completionTokens)).toEqual([12, 12, 12, 12, 12, 12]);
    // Every call started on an emptied sequence: the same prompt gives the same greedy text.
    expect(new Set(rec.finished.map((f) => f.text)).size).toBe(1);
  });

  it('turns a place over while other sequences keep decoding: the emptying gets the lock', async () => {
    // Three places, no spares: every short call's place must be emptied before the next short
    // call can start, while two long calls keep the batch loop busy the whole time.
    const { config, model } = await load({ sequences: 3, spareSequences: 0, contextSize: 1024 });
    const rec = recorder();
    const b = new LlamaBackend(model, config, () => performance.now(), rec.sink);
    b.admit(assign('long1', 0, 700));
    b.admit(assign('long2', 0, 700));
    for (const id of ['s1', 's2', 's3', 's4', 's5', 's6']) b.admit(assign(id, 1, 4));
    await eventually(() => rec.finished.length === 8, 60_000);
    expect(rec.failed).toEqual([]);
    // Every short call went through the one place the long calls left, before they ended.
    expect(rec.finished.slice(0, 6).map((f) => f.key)).toEqual(['s/s1', 's/s2', 's/s3', 's/s4', 's/s5', 's/s6']);
    expect(b.barrierRaises).toBeGreaterThan(0);
  });

  it('evaluates a better call\'s prompt before a worse one\'s that started with it', async () => {
    // Two places, two long prompts queued at once, the worse first: llama.cpp's batch takes the
    // better prompt whole before the worse one (node-llama-cpp's default splits it between them,
    // and both prompts would end in the same batch).
    const { config, model } = await load({ sequences: 2, spareSequences: 0, contextSize: 2048 });
    const rec = recorder();
    const b = new LlamaBackend(model, config, () => performance.now(), rec.sink);
    for (const [id, level] of [['worse', 3], ['better', 0]] as const) {
      const { prompt: _p, ...lengthOnly } = assign(id, level, 2);
      b.admit({ ...lengthOnly, promptTokens: 1500 });
    }
    await eventually(() => rec.finished.length === 2);
    expect(rec.failed).toEqual([]);
    // The recorder's map holds calls in the order of their first token.
    expect([...rec.tokens.keys()]).toEqual(['s/better', 's/worse']);
  });

  it('evaluates a prompt longer than the batch a batch at a time: same output, and lock work waits for one chunk, not the whole prompt', async () => {
    // Two places, no spares: a (long prompt) and b run; c waits. When b ends, c can start only
    // once b's sequence is emptied, which needs the context lock that the batch loop holds while
    // anything is queued: with the whole of a's prompt queued at once, that is until a's first token.
    const { config, model } = await load({ sequences: 2, spareSequences: 0, contextSize: 4096 });
    const longPrompt = Array.from({ length: 3400 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join('');
    const events: string[] = [];
    const rec = recorder();
    // What progress said of a (call.progress `prefilling`) at b's first token and at its own.
    const aPrefilling: (boolean | undefined)[] = [];
    const sink: BackendSink = {
      ...rec.sink,
      tokens: (key, t, n) => {
        if (!rec.tokens.has(key)) {
          events.push(`first token ${key}`);
          if (key === 's/b' || key === 's/a') aPrefilling.push(b.progress().find((p) => p.callId === 'a')?.prefilling);
        }
        rec.sink.tokens(key, t, n);
      },
      phase: (key, running) => {
        if (running) events.push(`start ${key}`);
      },
    };
    const b = new LlamaBackend(model, config, () => performance.now(), sink);
    b.admit(assign('a', 1, 6, longPrompt));
    b.admit(assign('b', 0, 2));
    b.admit(assign('c', 2, 2));
    await eventually(() => rec.finished.length === 3);
    expect(rec.failed).toEqual([]);
    expect(events.slice(0, 2).sort()).toEqual(['start s/a', 'start s/b']);
    // c started while a's prompt was still being evaluated: b's sequence was emptied after the
    // chunk in flight, not after the rest of a's 3400 tokens.
    expect(events.indexOf('start s/c')).toBeGreaterThan(events.indexOf('first token s/b'));
    expect(events.indexOf('start s/c')).toBeLessThan(events.indexOf('first token s/a'));
    // a reports itself mid-prefill while its prompt is evaluated, and not once it has a token.
    expect(aPrefilling).toEqual([true, false]);
    // Its 3400 tokens: six whole chunks (the last 327 go with the first token), after 0, 512,
    // ..., 2560 tokens of its own, each beside at most the one other call decoding; a chunk
    // handed over while b's or c's prompt was being computed is not timed, only counted.
    const chunks = [...b.promptChunks()];
    expect(chunks.reduce((t, [, c]) => t + c.samples, 0) + b.promptChunksSkipped).toBe(6);
    expect(chunks.length).toBeGreaterThan(0);
    for (const [decoders, c] of chunks) {
      expect(decoders).toBeLessThanOrEqual(1);
      expect(c.totalMs).toBeGreaterThan(0);
      expect(c.totalContext % 512).toBe(0);
    }
    // The reference: the same prompt through node-llama-cpp in one pass.
    const seq = model.sequences[0];
    if (seq === undefined) throw new Error('no sequence');
    await seq.clearHistory();
    const ref: Token[] = [];
    for await (const token of seq.evaluate(model.model.tokenize(longPrompt), { temperature: 0, yieldEogToken: true })) {
      ref.push(token);
      if (ref.length === 6) break;
    }
    const a = rec.finished.find((f) => f.key === 's/a');
    expect(a?.completionTokens).toBe(6);
    expect(a?.text).toBe(ref.map((t, i) => model.model.detokenize([t], false, ref.slice(Math.max(0, i - 7), i))).join(''));
  });

  it('fills a call that gives only a prompt length with that many tokens (trace replay)', async () => {
    const { config, model } = await load({ sequences: 1 });
    const rec = recorder();
    const b = new LlamaBackend(model, config, () => performance.now(), rec.sink);
    const { prompt: _p, ...lengthOnly } = assign('lengths', 0, 5);
    b.admit({ ...lengthOnly, promptTokens: 300 });
    await eventually(() => rec.finished.length === 1);
    expect(rec.finished[0]).toMatchObject({ promptTokens: 300, completionTokens: 5 });
  });
});
