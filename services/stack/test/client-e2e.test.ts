import { AutellixClient, CancelledError, TimeoutError } from '@autellix/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

describe('the client SDK against the live system', () => {
  let stack: LocalStack;
  let client: AutellixClient;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 5,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('streams a call as an async iterator, in order, and the chunks add up to the result', async () => {
    const session = await client.openSession();
    const handle = session.call({ messages: [{ role: 'user', content: 'plan a trip' }], maxTokens: 120 });
    const chunks: { index: number; tokens: number; text: string }[] = [];
    for await (const c of handle) chunks.push(c);
    const result = await handle.result;
    // A lone call streams as it is modelled (about 0.3 s of wall time here, in chunks of at most
    // 50 ms), not in one burst at the end of its run of decode steps.
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    expect(chunks.reduce((s, c) => s + c.tokens, 0)).toBe(120);
    expect(chunks.map((c) => c.text).join('')).toBe(result.text);
    expect(result.usage.completionTokens).toBe(120);
    expect(result.timings.totalMs).toBeGreaterThan(0);
    // The engine's accounts (modelled seconds for a sim engine).
    expect(result.service).toBeGreaterThan(0);
    expect(result.wait).toBeGreaterThanOrEqual(0);
    await session.close();
  });

  it('forks threads from a call and joins them; each fork extends its parent context', async () => {
    const session = await client.openSession();
    const root = await session.call({ prompt: 'x'.repeat(2000), maxTokens: 20, callId: 'root' }).result;
    const threads = session.fork(3, 'root');
    const outs = await session.join(threads.map((t) => t.call({ promptTokens: root.usage.promptTokens + 20 + 50, maxTokens: 10 })));
    expect(outs).toHaveLength(3);
    // The forks reuse the root's context from the engine's prefix cache.
    for (const o of outs) expect(o.usage.cachedTokens).toBeGreaterThan(0);
    const summary = await session.close();
    expect(summary.callsCompleted).toBe(4);
  });

  it('an AbortSignal cancels the call at the engine; a timeout does too', async () => {
    const session = await client.openSession();
    const engine = stack.engines[0]?.actor;
    if (engine === undefined) throw new Error('no engine');
    const before = engine.counters.cancelled;
    const ac = new AbortController();
    const handle = session.call({ promptTokens: 200, maxTokens: 20_000, signal: ac.signal });
    await expect.poll(() => engine.counters.assigned).toBeGreaterThan(0);
    ac.abort();
    await expect(handle.result).rejects.toBeInstanceOf(CancelledError);
    await expect.poll(() => engine.counters.cancelled, { timeout: 5000 }).toBe(before + 1);
    const slow = session.call({ promptTokens: 200, maxTokens: 20_000, timeoutMs: 300 });
    await expect(slow.result).rejects.toBeInstanceOf(TimeoutError);
    await expect.poll(() => engine.counters.cancelled, { timeout: 5000 }).toBe(before + 2);
    // Only the five calls of the two tests above ran to completion.
    expect(engine.counters.completed).toBe(5);
    await session.close();
  });
});
