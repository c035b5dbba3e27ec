import type { MessageOf, MessageType, Outgoing, ProgramIntakeKind } from '@autellix/protocol';
import { decodeMessage, encodeMessage, ErrorCode, intakeStreamName, resultsStreamName, subjects } from '@autellix/protocol';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { Consumer, JetStreamClient } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallChunk, Session } from '../src/index.ts';
import {
  AutellixClient,
  CancelledError,
  ClientClosedError,
  DuplicateCallError,
  InvalidRequestError,
  PromptTooLongError,
  TimeoutError,
  ValidationError,
} from '../src/index.ts';

let server: NatsServerHandle;
/** The test's own connection: reads the intake stream and plays the scheduler/engine replies. */
let nc: NatsConnection;
let js: JetStreamClient;
let prefixSeq = 0;
const clients: AutellixClient[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await nc?.drain();
  await server?.stop();
});

/** One intake subject read in order from the stream, decoded. */
class IntakeReader {
  private consumer: Consumer | null = null;
  constructor(
    private readonly prefix: string,
    private readonly kind: ProgramIntakeKind,
  ) {}

  async next<T extends MessageType>(types: readonly T[]): Promise<{ m: MessageOf<T>; msgId: string | undefined }> {
    this.consumer ??= await js.consumers.get(intakeStreamName(this.prefix), { filter_subjects: subjects.intake(this.kind, this.prefix) });
    const msg = await this.consumer.next({ expires: 5_000 });
    if (msg === null) throw new Error(`no ${types.join('/')} in ${subjects.intake(this.kind, this.prefix)}`);
    return { m: decodeMessage(msg.data, types), msgId: msg.headers?.get('Nats-Msg-Id') };
  }
}

/** A fresh deployment prefix with its own intake stream, and a client on it. */
async function fixture() {
  const prefix = `ct${++prefixSeq}`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: intakeStreamName(prefix), subjects: [subjects.intakeAll(prefix)] });
  const dropped: string[] = [];
  const client = await AutellixClient.connect({ servers: server.url, prefix, name: 'client-test', onError: (_e, ctx) => dropped.push(ctx) });
  clients.push(client);
  const streamSize = async (): Promise<number> => (await jsm.streams.info(intakeStreamName(prefix))).state.messages;
  return { prefix, client, dropped, streamSize, reader: (kind: ProgramIntakeKind) => new IntakeReader(prefix, kind) };
}

function reply<T extends MessageType>(subject: string, m: Outgoing<T>): void {
  nc.publish(subject, encodeMessage(m));
}

/** Opens a session, answering its `session.open` from the stream the way a scheduler would. */
async function openAnswered(fx: Awaited<ReturnType<typeof fixture>>, sessionId = 's1'): Promise<Session> {
  const opening = fx.client.openSession({ sessionId, programClass: 'test' });
  const { m, msgId } = await fx.reader('session').next(['session.open']);
  expect(msgId).toBe(`open:${sessionId}`);
  reply<'session.opened'>(m.replyTo, { type: 'session.opened', sessionId: m.sessionId, idleTtlMs: 60_000, existing: false });
  return opening;
}

describe('AutellixClient against a real nats-server', () => {
  it('openSession rejects with TimeoutError when no scheduler answers, after storing session.open', async () => {
    const fx = await fixture();
    const err = await fx.client.openSession({ sessionId: 'lonely', idleTtlMs: 5_000, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('timeout');
    const { m, msgId } = await fx.reader('session').next(['session.open']);
    expect(msgId).toBe('open:lonely');
    expect(m).toMatchObject({ type: 'session.open', sessionId: 'lonely', idleTtlMs: 5_000 });
    expect(m.replyTo.startsWith(`${fx.client.inbox}.`)).toBe(true);
    expect(m.replyTo.length).toBeLessThan(256);
  });

  it('openSession resolves with the session.opened fields', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sess-a');
    expect(session.id).toBe('sess-a');
    expect(session.idleTtlMs).toBe(60_000);
    expect(session.existing).toBe(false);
  });

  it('call() rejects a call without prompt, messages or promptTokens with ValidationError and publishes nothing', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx);
    const before = await fx.streamSize();
    const h = session.call({ maxTokens: 8 });
    const err = await h.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as ValidationError).field).toBe('prompt');
    await expect(session.call({ prompt: 'x', maxTokens: 0 }).result).rejects.toMatchObject({ code: ErrorCode.badMaxTokens });
    await expect(session.call({ prompt: 'x', maxTokens: 1, callId: 'bad id' }).result).rejects.toBeInstanceOf(ValidationError);
    await expect(session.call({ prompt: 'x', maxTokens: 1, ancestry: [{ callId: 'a', end: 0 }] }).result).rejects.toMatchObject({
      field: 'ancestry[0].end',
    });
    await expect(session.call({ prompt: 'x', maxTokens: 1, ancestry: [{ callId: 'no good', end: 5 }] }).result).rejects.toMatchObject({
      field: 'ancestry[0].callId',
    });
    expect(await fx.streamSize()).toBe(before);
  });

  it('stores call.submit with its fields and msgID, and rejects a resubmitted callId with DuplicateCallError', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sdup');
    const calls = fx.reader('call');
    const h = session.call({ prompt: 'hello world!', maxTokens: 16 });
    const { m, msgId } = await calls.next(['call.submit']);
    expect(msgId).toBe('sdup/c1');
    expect(m).toEqual({
      type: 'call.submit',
      v: 1,
      sessionId: 'sdup',
      callId: 'c1',
      threadId: 'main',
      parents: [],
      promptTokens: 3,
      maxTokens: 16,
      prompt: 'hello world!',
      replyTo: m.replyTo,
      stream: true,
    });
    expect(m.replyTo.startsWith(`${fx.client.inbox}.`)).toBe(true);
    expect(h.state).toBe('pending');

    const again = session.call({ prompt: 'hello again', maxTokens: 4, callId: 'c1' });
    await expect(again.result).rejects.toBeInstanceOf(DuplicateCallError);
    expect(await fx.streamSize()).toBe(2); // the open and the first submit
    expect(h.state).toBe('pending');
  });

  it('aborting the signal rejects with CancelledError at once and stores call.cancel', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'scancel');
    const calls = fx.reader('call');
    const ac = new AbortController();
    const h = session.call({ messages: [{ role: 'user', content: 'abcdefgh' }], maxTokens: 32, callId: 'k1', signal: ac.signal });
    const { m: submit } = await calls.next(['call.submit']);
    expect(submit.promptTokens).toBe(2);
    ac.abort();
    expect(h.state).toBe('rejected');
    await expect(h.result).rejects.toBeInstanceOf(CancelledError);
    const iter = (async () => {
      for await (const _ of h) {
        // no chunks
      }
    })();
    await expect(iter).rejects.toBeInstanceOf(CancelledError);
    const { m, msgId } = await fx.reader('cancel').next(['call.cancel']);
    expect(m).toEqual({ type: 'call.cancel', v: 1, sessionId: 'scancel', callId: 'k1' });
    expect(msgId).toBe('cancel:scancel/k1');
    // The scheduler's late `cancelled` error for the call is dropped, not delivered a second time.
    reply<'error'>(submit.replyTo, { type: 'error', code: ErrorCode.cancelled, message: 'cancelled', sessionId: 'scancel', callId: 'k1' });
    await expect.poll(() => fx.dropped).toEqual([`dropped message on ${submit.replyTo}`]);
  });

  it('a pre-aborted signal rejects with CancelledError without publishing', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx);
    const before = await fx.streamSize();
    const h = session.call({ prompt: 'p', maxTokens: 1, signal: AbortSignal.abort() });
    await expect(h.result).rejects.toBeInstanceOf(CancelledError);
    expect(await fx.streamSize()).toBe(before);
  });

  it('timeoutMs cancels the call and rejects with TimeoutError', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'stime');
    const h = session.call({ prompt: 'slow', maxTokens: 1, callId: 'slow', timeoutMs: 200 });
    await expect(h.result).rejects.toBeInstanceOf(TimeoutError);
    const { m } = await fx.reader('cancel').next(['call.cancel']);
    expect(m).toMatchObject({ sessionId: 'stime', callId: 'slow' });
  });

  it('reads an answer lost on the wire back from the results stream', async () => {
    const fx = await fixture();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: resultsStreamName(fx.prefix), subjects: [subjects.resultsAll(fx.prefix)], max_msgs_per_subject: 1, allow_direct: true });
    const session = await openAnswered(fx, 'slost');
    const lost = session.call({ prompt: 'a', maxTokens: 2, callId: 'lost' });
    const waiting = session.call({ prompt: 'b', maxTokens: 2, callId: 'waiting' });
    const calls = fx.reader('call');
    const submits = [(await calls.next(['call.submit'])).m, (await calls.next(['call.submit'])).m];
    const lostSubmit = submits.find((m) => m.callId === 'lost') as (typeof submits)[number];
    // Nothing stored yet: nothing recovered, both still pending.
    expect(await fx.client.recoverResults()).toBe(0);
    // The engine's answer reached the stream but not the client (it was disconnected then).
    const answer = encodeMessage<'call.result'>({
      type: 'call.result',
      sessionId: 'slost',
      callId: 'lost',
      engineId: 'e9',
      text: 'xy',
      usage: { promptTokens: 1, completionTokens: 2, cachedTokens: 0 },
      timings: { queuedMs: 1, firstTokenMs: 2, totalMs: 3 },
      preemptions: 0,
    });
    await js.publish(subjects.result(lostSubmit.replyTo, fx.prefix), answer);
    expect(await fx.client.recoverResults()).toBe(1);
    const r = await lost.result;
    expect(r).toMatchObject({ callId: 'lost', engineId: 'e9', text: 'xy' });
    // The engine's accounts are optional on the wire: absent, they are null.
    expect(r.service).toBeNull();
    expect(r.wait).toBeNull();
    // Recovered once: a second pass finds the route settled, and the other call still waits.
    expect(await fx.client.recoverResults()).toBe(0);
    let settled = false;
    void waiting.result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((res) => setTimeout(res, 50));
    expect(settled).toBe(false);
    await waiting.cancel();
  });

  it('delivers the result exactly once and chunks in index order without duplicates', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sres');
    const h = session.call({ prompt: 'tell me', maxTokens: 3 });
    const { m: submit } = await fx.reader('call').next(['call.submit']);
    const chunk = (index: number, text: string): void =>
      reply<'token.chunk'>(submit.replyTo, { type: 'token.chunk', sessionId: 'sres', callId: 'c1', index, text, tokens: 1 });
    const result = (engineId: string): void =>
      reply<'call.result'>(submit.replyTo, {
        type: 'call.result',
        sessionId: 'sres',
        callId: 'c1',
        engineId,
        text: 'abc',
        usage: { promptTokens: 2, completionTokens: 3, cachedTokens: 0 },
        timings: { queuedMs: 1, firstTokenMs: 2, totalMs: 3 },
        preemptions: 0,
      });
    chunk(1, 'b');
    chunk(0, 'a');
    chunk(0, 'a');
    chunk(2, 'c');
    chunk(1, 'b');
    result('e1');
    result('e2'); // e.g. a re-run after failover: must not reach the caller

    const seen: CallChunk[] = [];
    for await (const c of h) seen.push(c);
    expect(seen).toEqual([
      { index: 0, text: 'a', tokens: 1 },
      { index: 1, text: 'b', tokens: 1 },
      { index: 2, text: 'c', tokens: 1 },
    ]);
    const out = await h.result;
    expect(out).toMatchObject({ sessionId: 'sres', callId: 'c1', threadId: 'main', engineId: 'e1', text: 'abc', preemptions: 0 });
    expect(out.latencyMs).toBeGreaterThanOrEqual(0);
    expect(out.firstChunkMs).not.toBeNull();
    expect(out.firstChunkMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(out.latencyMs);
    await nc.flush();
    await expect.poll(() => fx.dropped.length).toBeGreaterThanOrEqual(1);
    expect(fx.dropped.every((d) => d.startsWith(`dropped message on ${submit.replyTo}`))).toBe(true);
    // A second iterator replays the same chunks.
    const again: number[] = [];
    for await (const c of h) again.push(c.index);
    expect(again).toEqual([0, 1, 2]);
  });

  it('an error message with code prompt_too_long rejects with PromptTooLongError', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'slong');
    const h = session.call({ prompt: 'x'.repeat(400), maxTokens: 4 });
    const { m: submit } = await fx.reader('call').next(['call.submit']);
    expect(submit.promptTokens).toBe(100);
    reply<'error'>(submit.replyTo, { type: 'error', code: ErrorCode.promptTooLong, message: 'prompt over 50 tokens', field: 'promptTokens', sessionId: 'slong', callId: 'c1' });
    const err = await h.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PromptTooLongError);
    expect(err).toMatchObject({ code: 'prompt_too_long', field: 'promptTokens', sessionId: 'slong', callId: 'c1' });
  });

  it('threads chain parents, fork starts threads from one call, join waits for all', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sthr');
    const calls = fx.reader('call');
    const t = session.thread('plan');
    const a = t.call({ prompt: 'step 1', maxTokens: 1 });
    const b = t.call({ prompt: 'step 2', maxTokens: 1 });
    const [x, y] = session.fork(2, b.callId);
    if (x === undefined || y === undefined) throw new Error('fork(2) returned fewer threads');
    const hx = x.call({ prompt: 'branch x', maxTokens: 1 });
    const hy = y.call({ prompt: 'branch y', maxTokens: 1 });
    const hx2 = x.call({ prompt: 'branch x again', maxTokens: 1 });
    const submits: MessageOf<'call.submit'>[] = [];
    for (let i = 0; i < 5; i++) submits.push((await calls.next(['call.submit'])).m);
    expect(submits.map((s) => [s.callId, s.threadId, s.parents])).toEqual([
      [a.callId, 'plan', []],
      [b.callId, 'plan', [a.callId]],
      [hx.callId, 'f1.0', [b.callId]],
      [hy.callId, 'f1.1', [b.callId]],
      [hx2.callId, 'f1.0', [hx.callId]],
    ]);
    for (const s of submits.slice(2, 4)) {
      reply<'call.result'>(s.replyTo, {
        type: 'call.result',
        sessionId: s.sessionId,
        callId: s.callId,
        engineId: 'e1',
        text: s.threadId,
        usage: { promptTokens: 1, completionTokens: 1, cachedTokens: 0 },
        timings: { queuedMs: 0, firstTokenMs: 0, totalMs: 0 },
        preemptions: 0,
      });
    }
    const joined = await session.join([hx, hy]);
    expect(joined.map((o) => o.text)).toEqual(['f1.0', 'f1.1']);
    expect(await session.join([])).toEqual([]);
  });

  it('close resolves with the session.closed fields, and later calls reject locally', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sclose');
    const sessions = fx.reader('session');
    await sessions.next(['session.open']);
    const closing = session.close({ timeoutMs: 5_000 });
    const { m } = await sessions.next(['session.close']);
    expect(m.sessionId).toBe('sclose');
    reply<'session.closed'>(m.replyTo ?? '', { type: 'session.closed', sessionId: 'sclose', callsCompleted: 3, service: 1.5, reason: 'closed' });
    expect(await closing).toEqual({ sessionId: 'sclose', callsCompleted: 3, service: 1.5, reason: 'closed' });
    expect(session.isClosed).toBe(true);
    await expect(session.call({ prompt: 'late', maxTokens: 1 }).result).rejects.toMatchObject({ code: ErrorCode.sessionEnded });
  });

  it('client.close rejects pending calls with ClientClosedError and cancels them at the scheduler', async () => {
    const fx = await fixture();
    const session = await openAnswered(fx, 'sbye');
    const h = session.call({ prompt: 'pending', maxTokens: 1, callId: 'p1' });
    await fx.reader('call').next(['call.submit']);
    await fx.client.close();
    await expect(h.result).rejects.toBeInstanceOf(ClientClosedError);
    const { m } = await fx.reader('cancel').next(['call.cancel']);
    expect(m).toMatchObject({ sessionId: 'sbye', callId: 'p1' });
    expect(fx.client.connection.isClosed()).toBe(true);
    await expect(session.call({ prompt: 'after', maxTokens: 1 }).result).rejects.toBeInstanceOf(ClientClosedError);
  });
});
