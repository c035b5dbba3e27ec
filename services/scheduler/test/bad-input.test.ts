import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { Message, MessageType, Outgoing } from '@autellix/protocol';
import { decodeMessage, encodeMessage, subjects } from '@autellix/protocol';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, createInbox } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningScheduler } from '../src/index.ts';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '../src/index.ts';

const plain = new Packr({ useRecords: false, mapsAsObjects: true });
const REPLIES: MessageType[] = ['session.opened', 'session.closed', 'token.chunk', 'call.result', 'error', 'assign.ack'];

describe('bad input: typed errors, counted, nothing stops', () => {
  let server: NatsServerHandle;
  let scheduler: RunningScheduler;
  let engine: RunningEngine;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    scheduler = await startScheduler(server.url, { ...DEFAULT_SERVICE_CONFIG, maxPromptTokens: 1000, maxTokens: 500 });
    engine = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'e0', speed: 50 });
    nc = await connect({ servers: server.url });
    await send('session', (replyTo) => ({ type: 'session.open', sessionId: 'good', replyTo }));
  });
  afterAll(async () => {
    await nc?.close();
    await engine?.stop();
    await scheduler?.stop();
    await server?.stop();
  });

  /** Publishes raw bytes (built with the reply subject) into the intake; resolves with the first reply. */
  async function sendRaw(kind: 'session' | 'call' | 'cancel', bytes: (replyTo: string) => Uint8Array, timeoutMs = 3000): Promise<Message | null> {
    const inbox = createInbox();
    const reply = new Promise<Message | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      const sub = nc.subscribe(inbox, {
        max: 1,
        callback: (_e, m) => {
          clearTimeout(timer);
          resolve(decodeMessage(m.data, REPLIES));
          sub.unsubscribe();
        },
      });
    });
    await nc.flush();
    await jetstream(nc).publish(subjects.intake(kind), bytes(inbox));
    return reply;
  }
  const send = <T extends MessageType>(kind: 'session' | 'call' | 'cancel', body: (replyTo: string) => Outgoing<T>) =>
    sendRaw(kind, (r) => encodeMessage(body(r)));

  const call = (replyTo: string, over: Record<string, unknown> = {}) => ({
    type: 'call.submit',
    v: 1,
    sessionId: 'good',
    callId: `c${Math.random().toString(36).slice(2)}`,
    threadId: 't',
    parents: [],
    promptTokens: 100,
    maxTokens: 10,
    replyTo,
    stream: false,
    ...over,
  });

  it('malformed msgpack is counted (no reply subject can be read)', async () => {
    const before = scheduler.actor.counters.rejected.bad_msgpack ?? 0;
    expect(await sendRaw('call', () => new Uint8Array([0x82, 0xa1]), 500)).toBeNull();
    await expect.poll(() => scheduler.actor.counters.rejected.bad_msgpack ?? 0).toBe(before + 1);
  });

  it('unknown message type gets unknown_type', async () => {
    const r = await sendRaw('call', (replyTo) => plain.pack({ type: 'call.teleport', v: 1, replyTo }));
    expect(r).toMatchObject({ type: 'error', code: 'unknown_type' });
  });

  it('missing and wrongly typed fields get bad_field naming the field', async () => {
    const { promptTokens: _p, ...missing } = call('x');
    expect(await sendRaw('call', (replyTo) => plain.pack({ ...missing, replyTo }))).toMatchObject({ code: 'bad_field', field: 'promptTokens' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { maxTokens: 'ten' })))).toMatchObject({ code: 'bad_field', field: 'maxTokens' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { parents: 'c1' })))).toMatchObject({ code: 'bad_field', field: 'parents' });
  });

  it('unknown and ended sessions are refused', async () => {
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { sessionId: 'ghost' })))).toMatchObject({ code: 'unknown_session' });
    await send('session', (replyTo) => ({ type: 'session.open', sessionId: 'brief', replyTo }));
    expect(await send('session', (replyTo) => ({ type: 'session.close', sessionId: 'brief', replyTo }))).toMatchObject({ type: 'session.closed' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { sessionId: 'brief' })))).toMatchObject({ code: 'session_ended' });
  });

  it('a duplicate call id is refused while the first completes', async () => {
    const first = await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { callId: 'dup' })));
    expect(first).toMatchObject({ type: 'call.result', callId: 'dup' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { callId: 'dup' })))).toMatchObject({ code: 'duplicate_call' });
  });

  it('a prompt over the limit and zero or negative max tokens are refused', async () => {
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { promptTokens: 1001 })))).toMatchObject({ code: 'prompt_too_long' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { maxTokens: 0 })))).toMatchObject({ code: 'bad_max_tokens' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { maxTokens: -5 })))).toMatchObject({ code: 'bad_max_tokens' });
    expect(await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { parents: ['never'] })))).toMatchObject({ code: 'unknown_parent' });
  });

  it('the engine answers a bad assignment with a typed error and keeps serving', async () => {
    const r = await nc.request(subjects.engineAssign('e0'), plain.pack({ type: 'call.assign', v: 1, engineId: 'e0' }), { timeout: 2000 });
    expect(decodeMessage(r.data, ['error'])).toMatchObject({ code: 'bad_field' });
    const garbage = await nc.request(subjects.engineAssign('e0'), new Uint8Array([0xc1]), { timeout: 2000 });
    expect(decodeMessage(garbage.data, ['error'])).toMatchObject({ code: 'bad_msgpack' });
    expect(engine.actor.counters.badMessages).toBeGreaterThanOrEqual(2);
  });

  it('unknown extra fields are ignored and never forwarded, even ones that could not be re-encoded', async () => {
    const r = await sendRaw('call', (replyTo) => plain.pack(call(replyTo, { extra: 2n ** 60n, note: 'x' })));
    expect(r).toMatchObject({ type: 'call.result', usage: { completionTokens: 10 } });
  });

  it('a heartbeat with an engine id that is not a subject token is refused, and heartbeats keep working', async () => {
    const before = scheduler.actor.counters.rejected.bad_field ?? 0;
    nc.publish(
      subjects.heartbeat('bad-id'),
      encodeMessage<'engine.heartbeat'>({
        type: 'engine.heartbeat',
        engineId: 'bad.id',
        backend: 'sim',
        running: 0,
        queued: 0,
        kvUsed: 0,
        maxBatch: 1,
        deadAfterMs: 1000,
        calls: [],
      }),
    );
    await expect.poll(() => scheduler.actor.counters.rejected.bad_field ?? 0).toBe(before + 1);
    expect(scheduler.actor.engines.ids()).toEqual(['e0']);
  });

  it('after all that, a good call still completes', async () => {
    const r = await sendRaw('call', (replyTo) => plain.pack(call(replyTo)));
    expect(r).toMatchObject({ type: 'call.result', usage: { completionTokens: 10 } });
    const counts = scheduler.actor.counters.rejected;
    for (const code of ['unknown_type', 'bad_field', 'unknown_session', 'session_ended', 'duplicate_call', 'prompt_too_long', 'bad_max_tokens']) {
      expect(counts[code] ?? 0).toBeGreaterThan(0);
    }
  });
});
