import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

const KEYS = { 'key-of-alice-0001': 'alice', 'key-of-bob-000002': 'bob' };

describe('gateway API keys: each tenant sees only its own programs', () => {
  let stack: LocalStack;
  let api: string;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 20,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      gateway: { port: 0, apiKeys: KEYS },
      log: () => {},
    });
    api = stack.gateway?.url ?? '';
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const chat = (key: string | null, program: string): Promise<Response> =>
    fetch(`${api}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-autellix-program': program,
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      },
      body: JSON.stringify({ model: 'autellix', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    });

  it('refuses a request without a key, or with an unknown one, as OpenAI does (401 invalid_api_key)', async () => {
    for (const key of [null, 'not-a-key-at-all']) {
      const res = await chat(key, 'trip');
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    }
    expect((await fetch(`${api}/v1/models`)).status).toBe(401);
    expect((await fetch(`${api}/dashboard`)).status).toBe(401);
    // Operators' endpoints stay open.
    expect((await fetch(`${api}/health`)).status).toBe(200);
  });

  it('keeps the same program id of two tenants apart, and lets each close only its own', async () => {
    const a = await chat('key-of-alice-0001', 'trip');
    const b = await chat('key-of-bob-000002', 'trip');
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.headers.get('x-autellix-program')).toBe('trip');
    const programs = stack.scheduler.actor.core.programs;
    expect(programs.has('alice:trip')).toBe(true);
    expect(programs.has('bob:trip')).toBe(true);
    const closed = await fetch(`${api}/v1/sessions/trip`, { method: 'DELETE', headers: { authorization: 'Bearer key-of-bob-000002' } });
    expect(closed.status).toBe(200);
    expect(programs.has('bob:trip')).toBe(false);
    expect(programs.has('alice:trip')).toBe(true);
    // Sessions opened explicitly live in the tenant's namespace too.
    const opened = await fetch(`${api}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer key-of-bob-000002' },
      body: JSON.stringify({ session_id: 'plan' }),
    });
    expect(opened.status).toBe(201);
    expect(((await opened.json()) as { id: string }).id).toBe('plan');
    expect(programs.has('bob:plan')).toBe(true);
  });

  it("shows a tenant's dashboard only its own programs, under their own ids", async () => {
    const res = await fetch(`${api}/dashboard/events?key=key-of-alice-0001&program=trip`);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const view = JSON.parse(text.slice(text.indexOf('data: ') + 6, text.indexOf('\n\n'))) as {
      programs: { programId: string }[];
      programCount: number;
      timeline?: { programId: string };
    };
    expect(view.programs.map((p) => p.programId)).toEqual(['trip']);
    expect(view.programCount).toBe(1);
    expect(view.timeline?.programId).toBe('trip');
  });
});
