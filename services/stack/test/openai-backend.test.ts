import { AutellixClient, EngineFailedError } from '@autellix/client';
import type { BackendSink, FinishedCall, RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, DEFAULT_OPENAI_BACKEND, OpenAiBackend, startEngine } from '@autellix/engine';
import type { CallAssign } from '@autellix/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

/** Polls `check` every 10 ms until it holds, failing after `ms`. */
async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A sink that records what the backend reports. */
function recordingSink() {
  const tokens = new Map<string, number>();
  const finished: FinishedCall[] = [];
  const failed: { key: string; message: string }[] = [];
  const sink: BackendSink = {
    tokens: (key, _text, n) => tokens.set(key, (tokens.get(key) ?? 0) + n),
    finished: (c) => finished.push(c),
    phase: () => {},
    failed: (key, message) => failed.push({ key, message }),
  };
  return { sink, tokens, finished, failed };
}

function assign(callId: string, level: number, maxTokens: number, seq: number): CallAssign {
  return {
    type: 'call.assign',
    v: 1,
    engineId: 'e',
    attempt: 0,
    sessionId: 'upstream-test',
    callId,
    threadId: 'main',
    parents: [],
    promptTokens: 10,
    maxTokens,
    messages: [{ role: 'user', content: `call ${callId}` }],
    replyTo: '_INBOX.none',
    stream: true,
    level,
    key: 0,
    seq,
  };
}

describe('the openai engine backend against a second running autellix gateway', () => {
  /** The upstream "OpenAI-compatible server": a whole second deployment behind its gateway. */
  let upstream: LocalStack;
  let baseUrl: string;

  beforeAll(async () => {
    upstream = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 20,
      policy: 'fcfs',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      gateway: { port: 0 },
      log: () => {},
    });
    baseUrl = `${upstream.gateway?.url}/v1`;
  });
  afterAll(async () => {
    await upstream?.stop();
  });

  const backend = (sink: BackendSink, over: Partial<typeof DEFAULT_OPENAI_BACKEND> = {}): OpenAiBackend =>
    new OpenAiBackend({ ...DEFAULT_OPENAI_BACKEND, baseUrl, maxConcurrent: 1, ...over, clock: () => performance.now(), fetch: globalThis.fetch }, sink);

  it('preempts a running call for a better one and resumes it as a continuation, keeping every token', async () => {
    const rec = recordingSink();
    const b = backend(rec.sink);
    b.admit(assign('long', 2, 600, 1));
    await eventually(() => (rec.tokens.get('upstream-test/long') ?? 0) > 0);
    b.admit(assign('short', 0, 20, 2));
    expect(b.load()).toMatchObject({ running: 1, queued: 1 });
    await eventually(() => rec.finished.length === 2, 20_000);
    b.close();
    expect(rec.failed).toEqual([]);
    const [first, second] = rec.finished as [FinishedCall, FinishedCall];
    expect(first.key).toBe('upstream-test/short');
    expect(first.completionTokens).toBe(20);
    expect(second.key).toBe('upstream-test/long');
    expect(second.preemptions).toBe(1);
    // The upstream counts tokens per chunk (continuous usage), so the resumed call asks for exactly what is left.
    expect(second.completionTokens).toBe(600);
    expect(rec.tokens.get('upstream-test/long')).toBe(600);
    expect(second.text.length).toBeGreaterThan(0);
    expect(second.service).toBeGreaterThan(0);
    expect(second.wait).toBeGreaterThan(0);
    expect(second.promptTokens).toBeGreaterThan(0);
  });

  it('reports an unreachable server and an upstream HTTP error as failures, with the reason', async () => {
    const rec = recordingSink();
    const down = backend(rec.sink, { baseUrl: 'http://127.0.0.1:1/v1' });
    down.admit(assign('a', 0, 5, 1));
    const wrongModel = backend(rec.sink, { model: 'no-such-model' });
    wrongModel.admit(assign('b', 0, 5, 2));
    await eventually(() => rec.failed.length === 2);
    const byKey = Object.fromEntries(rec.failed.map((f) => [f.key, f.message]));
    expect(byKey['upstream-test/a']).toMatch(/^openai backend: /);
    expect(byKey['upstream-test/b']).toMatch(/HTTP 404.*no-such-model/);
    expect(down.keys()).toEqual([]);
  });

  describe('as the engine of a deployment', () => {
    let local: LocalStack;
    let engine: RunningEngine;
    let client: AutellixClient;

    beforeAll(async () => {
      local = await startLocalStack({
        port: -1,
        engines: 0,
        speed: 20,
        policy: 'plas',
        balancer: 'autellix',
        profile: 'llama3.1-8b-a100',
        log: () => {},
      });
      engine = await startEngine({
        ...DEFAULT_ENGINE_SERVICE,
        servers: local.url,
        engineId: 'engine-openai',
        backend: 'openai',
        openai: { ...DEFAULT_OPENAI_BACKEND, baseUrl, maxConcurrent: 4 },
      });
      client = await AutellixClient.connect({ servers: local.url });
    });
    afterAll(async () => {
      await client?.close();
      await engine?.stop();
      await local?.stop();
    });

    it('runs a program end to end through the upstream server, streamed', async () => {
      const session = await client.openSession();
      const handle = session.call({ messages: [{ role: 'user', content: 'hello upstream' }], maxTokens: 50 });
      let streamed = 0;
      for await (const c of handle) streamed += c.tokens;
      const r = await handle.result;
      expect(r.engineId).toBe('engine-openai');
      expect(r.usage.completionTokens).toBe(50);
      expect(streamed).toBe(50);
      expect(r.text.length).toBeGreaterThan(0);
      const next = await session.call({ prompt: 'and a text completion', maxTokens: 8, parents: [r.callId] }).result;
      expect(next.usage.completionTokens).toBe(8);
      expect((await session.close()).callsCompleted).toBe(2);
    });
  });

  it('turns an upstream failure into the call failing with engine_failed, and keeps serving', async () => {
    const local = await startLocalStack({ port: -1, engines: 0, speed: 20, policy: 'plas', balancer: 'autellix', profile: 'llama3.1-8b-a100', log: () => {} });
    const bad = await startEngine({
      ...DEFAULT_ENGINE_SERVICE,
      servers: local.url,
      engineId: 'engine-broken',
      backend: 'openai',
      openai: { ...DEFAULT_OPENAI_BACKEND, baseUrl, model: 'no-such-model' },
    });
    const client = await AutellixClient.connect({ servers: local.url });
    try {
      const session = await client.openSession();
      const err = await session.call({ prompt: 'x', maxTokens: 4 }).result.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineFailedError);
      expect((err as Error).message).toMatch(/no-such-model/);
      const again = await session.call({ prompt: 'y', maxTokens: 4 }).result.catch((e: unknown) => e);
      expect(again).toBeInstanceOf(EngineFailedError);
    } finally {
      await client.close();
      await bad.stop();
      await local.stop();
    }
  });
});
