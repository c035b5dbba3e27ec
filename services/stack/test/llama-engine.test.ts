import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutellixClient } from '@autellix/client';
import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, DEFAULT_LLAMA_BACKEND, startEngine, writeTinyLlamaGguf } from '@autellix/engine';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

describe('a llama engine (tiny generated GGUF, CPU) serving a deployment', () => {
  let dir: string;
  let stack: LocalStack;
  let engine: RunningEngine;
  let client: AutellixClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'autellix-llama-e2e-'));
    const modelPath = join(dir, 'tiny.gguf');
    writeTinyLlamaGguf(modelPath);
    stack = await startLocalStack({
      port: -1,
      engines: 0,
      speed: 1,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      gateway: { port: 0 },
      log: () => {},
    });
    engine = await startEngine({
      ...DEFAULT_ENGINE_SERVICE,
      servers: stack.url,
      engineId: 'llama-0',
      backend: 'llama',
      llama: { ...DEFAULT_LLAMA_BACKEND, modelPath, sequences: 2, contextSize: 1024, ignoreEos: true },
    });
    client = await AutellixClient.connect({ servers: stack.url });
  });
  afterAll(async () => {
    await client?.close();
    await engine?.stop();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a forked program end to end with real tokens streamed', async () => {
    const session = await client.openSession();
    const root = session.call({ prompt: 'plan the search', maxTokens: 40, callId: 'root' });
    let streamed = 0;
    for await (const c of root) streamed += c.tokens;
    const r = await root.result;
    expect(r.engineId).toBe('llama-0');
    // Its heartbeats say it keeps no prefix cache (what gittins' auto fallback reads).
    expect(stack.scheduler.actor.engines.get('llama-0')?.prefixCache).toBe(false);
    expect(r.usage.completionTokens).toBe(40);
    expect(streamed).toBe(40);
    expect(r.usage.promptTokens).toBeGreaterThan(0);
    const forks = session.fork(3, 'root');
    const outs = await session.join(forks.map((t) => t.call({ prompt: 'expand a branch', maxTokens: 20 })));
    expect(outs.map((o) => o.usage.completionTokens)).toEqual([20, 20, 20]);
    expect((await session.close()).callsCompleted).toBe(4);
    // The engine's turnover costs are in its metrics.
    const text = await engine.metrics.registry.metrics();
    expect(text).toMatch(/autellix_engine_llama_save_failures_total\{engine="llama-0"\} 0/);
    for (const name of ['clean_sequence_wait_seconds_total', 'barrier_raises_total', 'barrier_seconds_total', 'barrier_drain_seconds_total']) {
      expect(text).toMatch(new RegExp(`autellix_engine_llama_${name}\\{engine="llama-0"\\} \\d`));
    }
  });

  it('answers the OpenAI API through the gateway with the real model', async () => {
    const openai = new OpenAI({ baseURL: `${stack.gateway?.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const r = await openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'hi' }], max_tokens: 12 });
    expect(r.usage?.completion_tokens).toBe(12);
    expect(r.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });
});
