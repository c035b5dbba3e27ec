import { connect as netConnect } from 'node:net';
import { AutellixClient } from '@autellix/client';
import { encodeMessage, subjects } from '@autellix/protocol';
import type { Options } from 'msgpackr';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../src/index.ts';
import { startLocalStack } from '../src/index.ts';

/** xorshift32: the fuzz is the same on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

// The wire settings (as in @autellix/protocol; msgpackr's types do not list 'auto' yet).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' } as unknown as Options);

/** One valid message of every type a service receives, as plain objects. */
const SEEDS: Record<string, unknown>[] = [
  { type: 'session.open', sessionId: 'fz', replyTo: '_INBOX.fz.1', programClass: 'x', idleTtlMs: 60000 },
  { type: 'session.close', sessionId: 'fz', replyTo: '_INBOX.fz.2' },
  { type: 'call.submit', sessionId: 'fz', callId: 'c1', threadId: 'main', parents: [], promptTokens: 20, maxTokens: 8, prompt: 'hi', replyTo: '_INBOX.fz.3', stream: true },
  { type: 'call.cancel', sessionId: 'fz', callId: 'c1' },
  { type: 'call.done', sessionId: 'fz', callId: 'c1', engineId: 'engine-0', service: 1, wait: 0, completionTokens: 8, cachedTokens: 0, preemptions: 0 },
  { type: 'call.failed', sessionId: 'fz', callId: 'c1', engineId: 'engine-0', code: 'engine_failed', message: 'x' },
  {
    type: 'call.assign', sessionId: 'fz', callId: 'c9', threadId: 'main', parents: [], promptTokens: 20, maxTokens: 8, replyTo: '_INBOX.fz.4', stream: true,
    engineId: 'engine-0', attempt: 0, level: 0, key: 1, seq: 1,
  },
  { type: 'call.priority', sessionId: 'fz', callId: 'c1', level: 3, key: 5, seq: 7 },
  { type: 'call.revoke', sessionId: 'fz', callId: 'c1', reason: 'cancelled' },
  { type: 'call.progress', engineId: 'engine-0', items: [{ sessionId: 'fz', callId: 'c1', service: 1, wait: 1, running: true }] },
  { type: 'engine.heartbeat', engineId: 'engine-fz', backend: 'sim', running: 0, queued: 0, kvUsed: 0, maxBatch: 8, deadAfterMs: 1500, calls: [] },
  { type: 'status.request' },
  { type: 'monitor.request', programId: 'fz' },
].map((m) => ({ ...m, v: 1 }));

function randomValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * 11);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return Math.floor((r() - 0.5) * 2 ** 40);
    case 3:
      return (r() - 0.5) * 1e12;
    case 4:
      return 'x'.repeat(Math.floor(r() ** 4 * 100_000));
    case 5:
      return String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(r() * 0xd7ff)));
    case 6:
      return depth > 2 ? [] : Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
    case 7:
      return depth > 2 ? {} : { a: randomValue(r, depth + 1), type: 'call.submit' };
    case 8:
      return Number.NaN;
    case 9:
      return -1;
    default:
      return '';
  }
}

/** A message: random bytes, a flipped or cut valid one, or a valid one with a field changed, dropped or added. */
function fuzzMessage(r: () => number): Uint8Array {
  const seed = SEEDS[Math.floor(r() * SEEDS.length)] as Record<string, unknown>;
  const kind = Math.floor(r() * 7);
  if (kind === 0) return Uint8Array.from({ length: Math.floor(r() * 200) }, () => Math.floor(r() * 256));
  const valid = packr.pack(seed);
  if (kind === 1) {
    const b = Uint8Array.from(valid);
    for (let i = 0; i < 1 + Math.floor(r() * 4); i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    return b;
  }
  if (kind === 2) return valid.subarray(0, Math.floor(r() * valid.length));
  if (kind === 3) {
    // An integer beyond 2^53 (msgpack uint64) in place of a field.
    const keys = Object.keys(seed);
    const field = keys[Math.floor(r() * keys.length)] as string;
    const head = packr.pack({ ...seed, [field]: 0 });
    const big = Uint8Array.from([0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    const i = head.lastIndexOf(0);
    return Uint8Array.from([...head.subarray(0, i), ...big, ...head.subarray(i + 1)]);
  }
  const m: Record<string, unknown> = { ...seed };
  const keys = Object.keys(m);
  const field = keys[Math.floor(r() * keys.length)] as string;
  if (kind === 4) delete m[field];
  else if (kind === 5) m[field] = randomValue(r);
  else m[`extra${Math.floor(r() * 10)}`] = randomValue(r);
  if (r() < 0.1) return packr.pack(r() < 0.5 ? [m] : 'not a map');
  return packr.pack(m);
}

describe('fuzzing: every subject and the gateway', () => {
  let stack: LocalStack;
  let client: AutellixClient;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: -1,
      engines: 1,
      speed: 40,
      policy: 'plas',
      balancer: 'autellix',
      profile: 'llama3.1-8b-a100',
      gateway: { port: 0, maxBodyBytes: 64 * 1024 },
      log: () => {},
    });
    client = await AutellixClient.connect({ servers: stack.url });
    await new Promise((r) => setTimeout(r, 600));
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('rejects 10 000 random and mutated messages on every subject, and then serves a workload normally', async () => {
    const nc = client.connection;
    const targets = [
      subjects.intake('session'),
      subjects.intake('call'),
      subjects.intake('cancel'),
      subjects.outcome('engine-0'),
      subjects.engineAssign('engine-0'),
      subjects.engineControl('engine-0'),
      subjects.heartbeat('engine-0'),
      subjects.progress('engine-0'),
      subjects.assignReply('engine-0', stack.scheduler.actor.ackNonce, 1),
      subjects.assignReply('engine-0', stack.scheduler.actor.ackNonce, 1, '7'),
      subjects.status(),
      subjects.monitor(),
      subjects.sharedWork(),
    ];
    let answers = 0;
    const sink = nc.subscribe('_INBOX.fuzz.>', {
      callback: () => {
        answers += 1;
      },
    });
    const r = rng(20261201);
    for (let i = 0; i < 10_000; i++) {
      const subject = targets[i % targets.length] as string;
      nc.publish(subject, fuzzMessage(r), { reply: `_INBOX.fuzz.${i}` });
      if (i % 500 === 499) await nc.flush();
    }
    await nc.flush();
    // The scheduler works through the stream; wait until it answers a status request again.
    const s = stack.scheduler.actor;
    const e = stack.engines[0]?.actor;
    await new Promise((r2) => setTimeout(r2, 1500));
    const rejected = Object.values(s.counters.rejected).reduce((a, b) => a + b, 0);
    expect(rejected).toBeGreaterThan(1000);
    expect(e?.counters.badMessages ?? 0).toBeGreaterThan(100);
    expect(answers).toBeGreaterThan(100); // bad requests with a reply subject were answered
    sink.unsubscribe();

    // No state corrupted: a workload afterwards completes normally.
    const results = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        const session = await client.openSession({ sessionId: `after-fuzz-${i}` });
        const a = await session.call({ promptTokens: 50, maxTokens: 10, callId: 'a' }).result;
        const b = await session.call({ promptTokens: 80, maxTokens: 10, callId: 'b', parents: ['a'] }).result;
        await session.close();
        return a.usage.completionTokens + b.usage.completionTokens;
      }),
    );
    expect(results).toEqual([20, 20, 20, 20, 20]);
  }, 120_000);

  it('a heartbeat of an engine that takes no assignments cannot black-hole calls', async () => {
    // "a-ghost" sorts before engine-0, so the balancer picks it first on a tie; it asks never to
    // be declared dead. Its first assignment finds no responder: it is forgotten and the call
    // placed again.
    const nc = client.connection;
    nc.publish(
      subjects.heartbeat('a-ghost'),
      encodeMessage<'engine.heartbeat'>({ type: 'engine.heartbeat', engineId: 'a-ghost', backend: 'sim', running: 0, queued: 0, kvUsed: 0, maxBatch: 8, deadAfterMs: 2 ** 31, calls: [] }),
    );
    await nc.flush();
    const engines = stack.scheduler.actor.engines;
    for (let i = 0; i < 50 && !engines.has('a-ghost'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(engines.get('a-ghost')?.deadAfterMs).toBe(30_000); // capped
    const reassigned = stack.scheduler.actor.counters.reassignments;
    const session = await client.openSession({ sessionId: 'past-the-ghost' });
    // A long call (over 2048 prompt tokens) is placed on an engine directly, not offered as shared work.
    const t0 = performance.now();
    const out = await session.call({ promptTokens: 3000, maxTokens: 6, callId: 'c' }).result;
    // At once, not after the ghost's (capped) 30 s of silence.
    expect(performance.now() - t0).toBeLessThan(5000);
    await session.close();
    expect(out.engineId).toBe('engine-0');
    expect(engines.has('a-ghost')).toBe(false);
    expect(stack.scheduler.actor.counters.reassignments).toBeGreaterThan(reassigned);
  });

  it('answers malformed HTTP with clear errors and keeps serving', async () => {
    const api = stack.gateway?.url ?? '';
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${api}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': type }, body });
    const cases: [string, string, number][] = [
      ['bad JSON', '{"model": "autellix", "messages": [', 400],
      ['not an object', '[1, 2, 3]', 400],
      ['wrong types', '{"model": 7, "messages": "hi", "max_tokens": "many"}', 400],
      ['no messages', '{"model": "autellix"}', 400],
      ['negative max_tokens', '{"model": "autellix", "messages": [{"role": "user", "content": "x"}], "max_tokens": -3}', 400],
      ['huge body', `{"model": "autellix", "messages": [{"role": "user", "content": "${'x'.repeat(200_000)}"}]}`, 413],
    ];
    for (const [what, body, status] of cases) {
      const res = await post(body);
      expect(res.status, what).toBe(status);
      const err = (await res.json()) as { error: { message: string; type: string } };
      expect(err.error.message.length, what).toBeGreaterThan(0);
    }
    // Random bytes as a request body.
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      const res = await post(String.fromCharCode(...Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256))), r() < 0.5 ? 'application/json' : 'text/plain');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    // Not HTTP at all, and a slow client that never finishes its request: neither stops others.
    const { port } = new URL(api);
    const raw = netConnect(Number(port), '127.0.0.1');
    raw.write('\x00\x01garbage that is not HTTP\r\n\r\n');
    const slow = netConnect(Number(port), '127.0.0.1');
    slow.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"model":');
    const ok = await fetch(`${api}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'autellix', messages: [{ role: 'user', content: 'still there?' }], max_tokens: 4 }),
    });
    expect(ok.status).toBe(200);
    raw.destroy();
    slow.destroy();
  }, 60_000);
});
