import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayRig } from './fixtures/gateway-rig.ts';
import { startGatewayRig } from './fixtures/gateway-rig.ts';

/** Polls `check` every 20 ms until it holds, failing after `ms`. */
async function eventually(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('the gateway through the official openai SDK', () => {
  let rig: GatewayRig;
  let openai: OpenAI;

  beforeAll(async () => {
    rig = await startGatewayRig({ maxInFlightPerProgram: 1 });
    openai = new OpenAI({ baseURL: rig.baseURL, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('lists its models', async () => {
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['autellix']);
  });

  it('answers a chat completion with usage, and names the program and call in headers', async () => {
    const { data, response } = await openai.chat.completions
      .create(
        { model: 'autellix', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }], max_tokens: 24 },
        { headers: { 'X-Autellix-Program': 'chat-prog-1', 'X-Autellix-Thread': 'main' } },
      )
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]?.message.role).toBe('assistant');
    expect(data.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(data.choices[0]?.finish_reason).toBe('length');
    expect(data.usage?.completion_tokens).toBe(24);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + 24);
    expect(response.headers.get('x-autellix-program')).toBe('chat-prog-1');
    expect(response.headers.get('x-autellix-call-id')).toMatch(/^g[0-9a-f]{6}-\d+$/);
  });

  it('streams a chat completion whose deltas add up, with a final usage chunk', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'autellix', messages: [{ role: 'user', content: 'tell me a story' }], max_tokens: 80, stream: true, stream_options: { include_usage: true } },
      { headers: { 'X-Session-ID': 'stream-prog-1' } },
    );
    let text = '';
    let roles = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (choice === undefined) continue;
      if (choice.delta.role === 'assistant') roles += 1;
      text += choice.delta.content ?? '';
      if (choice.finish_reason !== null) finish = choice.finish_reason;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(roles).toBe(1);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(80);
  });

  it('serves text completions, streamed and not, for a request without identity', async () => {
    const one = await openai.completions.create({ model: 'autellix', prompt: 'Once upon a time', max_tokens: 16 });
    expect(one.object).toBe('text_completion');
    expect(one.choices[0]?.text.length).toBeGreaterThan(0);
    expect(one.usage?.completion_tokens).toBe(16);
    const stream = await openai.completions.create({ model: 'autellix', prompt: 'Once upon a time', max_tokens: 30, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  it('opens a session, chains calls through parents and threads, and deletes it with a summary', async () => {
    const opened = (await openai.post('/sessions', { body: { program_class: 'react' } })) as { id: string; object: string };
    expect(opened.object).toBe('session');
    const headers = { 'X-Autellix-Program': opened.id };
    const first = await openai.chat.completions
      .create({ model: 'autellix', messages: [{ role: 'user', content: 'step 1' }], max_tokens: 10 }, { headers })
      .withResponse();
    const parent = first.response.headers.get('x-autellix-call-id') as string;
    const forks = await Promise.all(
      ['a', 'b'].map((t) =>
        openai.chat.completions.create(
          { model: 'autellix', messages: [{ role: 'user', content: `branch ${t}` }], max_tokens: 10 },
          // One call in flight per program is this rig's limit, so the branches go one at a time.
          { headers: { ...headers, 'X-Autellix-Thread': t, 'X-Autellix-Parents': parent, 'X-Autellix-Call': `fork-${t}` } },
        ).catch(async (err: unknown) => {
          if (err instanceof OpenAI.RateLimitError) {
            await new Promise((r) => setTimeout(r, 300));
            return openai.chat.completions.create(
              { model: 'autellix', messages: [{ role: 'user', content: `branch ${t}` }], max_tokens: 10 },
              { headers: { ...headers, 'X-Autellix-Thread': t, 'X-Autellix-Parents': parent, 'X-Autellix-Call': `fork-${t}` } },
            );
          }
          throw err;
        }),
      ),
    );
    expect(forks.map((f) => f.usage?.completion_tokens)).toEqual([10, 10]);
    const deleted = (await openai.delete(`/sessions/${opened.id}`)) as { deleted: boolean; calls_completed: number; service_seconds: number };
    expect(deleted.deleted).toBe(true);
    expect(deleted.calls_completed).toBe(3);
    expect(deleted.service_seconds).toBeGreaterThan(0);
    // The ended program cannot take more calls.
    await expect(openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'more' }], max_tokens: 5 }, { headers })).rejects.toMatchObject({
      status: 410,
    });
  });

  it('answers bad requests in the OpenAI error shape with the right status', async () => {
    const bad = openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'x' }], max_tokens: 0 });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'max_tokens', type: 'invalid_request_error' });
    await expect(openai.chat.completions.create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
    await expect(openai.chat.completions.create({ model: 'autellix', messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    await expect(
      openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'x' }], n: 2 }),
    ).rejects.toMatchObject({ status: 400, param: 'n', code: 'unsupported_value' });
    await expect(
      openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'X-Autellix-Program': 'bad id!' } }),
    ).rejects.toMatchObject({ status: 400, param: 'X-Autellix-Program' });
    await expect(
      openai.chat.completions.create(
        { model: 'autellix', messages: [{ role: 'user', content: 'x' }] },
        { headers: { 'X-Autellix-Program': 'p-one', 'X-Session-ID': 'p-two' } },
      ),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      openai.chat.completions.create(
        { model: 'autellix', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 },
        { headers: { 'X-Autellix-Program': 'orphan-prog', 'X-Autellix-Parents': 'never-submitted' } },
      ),
    ).rejects.toMatchObject({ status: 400, code: 'unknown_parent' });
    // The gateway kept serving.
    const ok = await openai.chat.completions.create({ model: 'autellix', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 });
    expect(ok.usage?.completion_tokens).toBe(4);
  });

  it('refuses a call over the per-program limit with 429 and Retry-After', async () => {
    const headers = { 'X-Autellix-Program': 'busy-prog' };
    const ac = new AbortController();
    const long = await openai.chat.completions.create(
      { model: 'autellix', messages: [{ role: 'user', content: 'a long one' }], max_tokens: 20_000, stream: true },
      { headers, signal: ac.signal },
    );
    const reader = long[Symbol.asyncIterator]();
    await reader.next(); // the call is running
    const refused = await openai.chat.completions
      .create({ model: 'autellix', messages: [{ role: 'user', content: 'another' }], max_tokens: 4 }, { headers })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('1');
    ac.abort();
    await eventually(() => rig.gateway.counters.disconnected >= 1);
  });

  it('cancels the call at the engine when the client disconnects mid-stream', async () => {
    const before = rig.engine.actor.counters.cancelled;
    const disconnects = rig.gateway.counters.disconnected;
    const ac = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'autellix', messages: [{ role: 'user', content: 'go on forever' }], max_tokens: 20_000, stream: true },
      { headers: { 'X-Autellix-Program': 'leaving-prog' }, signal: ac.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await eventually(() => rig.gateway.counters.disconnected > disconnects);
    await eventually(() => rig.engine.actor.counters.cancelled > before);
    // Its slot is free again: the program can call at once.
    const next = await openai.chat.completions.create(
      { model: 'autellix', messages: [{ role: 'user', content: 'short' }], max_tokens: 3 },
      { headers: { 'X-Autellix-Program': 'leaving-prog' } },
    );
    expect(next.usage?.completion_tokens).toBe(3);
  });
});
