import { AutellixClient } from '@autellix/client';
import { decodeMessage, subjects } from '@autellix/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

/** The value of one sample in Prometheus text (labels in any order); undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('Prometheus metrics of the live system', () => {
  let stack: LocalStack;
  let client: AutellixClient;
  let url: string;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 1,
      // At 5x the long call below runs at level 0 for about 200 ms of wall time before its 1 s
      // quantum demotes it (50 ms at 20x, which a scrape under a busy test run could miss).
      speed: 5,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      gateway: { port: 0 },
      metrics: { host: '127.0.0.1', port: 0 },
      log: () => {},
    });
    url = stack.metrics?.url ?? '';
    client = await AutellixClient.connect({ servers: stack.url });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('counts calls, tokens and program latencies exactly, and shows running calls by level', async () => {
    // A long call shows up as running at level 0, then the gauge empties when it is done.
    const long = await client.openSession({ sessionId: 'm-long' });
    const handle = long.call({ promptTokens: 100, maxTokens: 400, callId: 'l' });
    const deadline = Date.now() + 5000;
    let running: number | undefined;
    while (running === undefined && Date.now() < deadline) {
      running = sample(await scrape(url), 'autellix_scheduler_calls', { level: '0', phase: 'running' });
      if (running === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(running).toBe(1);
    await handle.result;
    await long.close();

    for (const id of ['m-a', 'm-b']) {
      const s = await client.openSession({ sessionId: id });
      await s.call({ promptTokens: 50, maxTokens: 10, callId: 'c1' }).result;
      await s.call({ promptTokens: 80, maxTokens: 20, callId: 'c2', parents: ['c1'] }).result;
      await s.close();
    }
    // Outcomes reach the scheduler through the stream: wait for the last one.
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await scrape(url);
      if (sample(text, 'autellix_program_latency_seconds_count') === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sample(text, 'autellix_scheduler_sessions_opened_total')).toBe(3);
    expect(sample(text, 'autellix_scheduler_sessions_ended_total')).toBe(3);
    expect(sample(text, 'autellix_scheduler_sessions_open')).toBe(0);
    expect(sample(text, 'autellix_scheduler_calls_accepted_total')).toBe(5);
    expect(sample(text, 'autellix_scheduler_calls_finished_total', { outcome: 'done' })).toBe(5);
    expect(sample(text, 'autellix_scheduler_call_queue_wait_seconds_count')).toBe(5);
    expect(sample(text, 'autellix_scheduler_call_service_seconds_count')).toBe(5);
    expect(sample(text, 'autellix_program_latency_seconds_count')).toBe(3);
    expect(sample(text, 'autellix_program_token_latency_seconds_count')).toBe(3);
    expect(sample(text, 'autellix_scheduler_calls', { level: '0', phase: 'running' })).toBeUndefined();
    expect(sample(text, 'autellix_engine_tokens_generated_total', { engine: 'engine-0' })).toBe(400 + 2 * 30);
    expect(sample(text, 'autellix_engine_calls_completed_total', { engine: 'engine-0' })).toBe(5);
    expect(sample(text, 'autellix_engine_calls_assigned_total', { engine: 'engine-0' })).toBe(5);
    expect(sample(text, 'autellix_engine_running_calls', { engine: 'engine-0' })).toBe(0);
    expect(sample(text, 'autellix_scheduler_engine_queued_calls', { engine: 'engine-0' })).toBe(0);
    // The long call used up level 0's quantum (1 s of service) at least once.
    expect(sample(text, 'autellix_scheduler_demotions_total')).toBeGreaterThan(0);
    // Each program's token latency is its latency over its tokens (at least 30 per program).
    const lat = sample(text, 'autellix_program_latency_seconds_sum') ?? 0;
    const perToken = sample(text, 'autellix_program_token_latency_seconds_sum') ?? 0;
    expect(lat).toBeGreaterThan(0);
    expect(perToken).toBeGreaterThan(0);
    expect(perToken).toBeLessThanOrEqual(lat / 30);
  });

  it('counts gateway requests and errors by status, on both endpoints', async () => {
    const gw = stack.gateway?.url ?? '';
    const bad = await fetch(`${gw}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(bad.status).toBe(404);
    const own = await scrape(`${gw}/metrics`);
    expect(sample(own, 'autellix_gateway_errors_total', { status: '404', type: 'invalid_request_error' })).toBe(1);
    expect(sample(own, 'autellix_gateway_requests_total')).toBeGreaterThanOrEqual(1);
    const merged = await scrape(url);
    expect(sample(merged, 'autellix_gateway_errors_total', { status: '404', type: 'invalid_request_error' })).toBe(1);
  });

  it('counts messages an engine refused, by error code', async () => {
    const reply = await client.connection.request(subjects.engineAssign('engine-0'), new Uint8Array([0xc1]), { timeout: 2000 });
    expect(decodeMessage(reply.data, ['error']).code).toBe('bad_msgpack');
    const text = await scrape(url);
    expect(sample(text, 'autellix_engine_rejected_messages_total', { engine: 'engine-0', code: 'bad_msgpack' })).toBe(1);
  });

  it('answers 404 off /metrics and 405 to other methods', async () => {
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });
});
