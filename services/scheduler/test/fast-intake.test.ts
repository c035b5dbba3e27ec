import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { Message, MessageType, Outgoing } from '@autellix/protocol';
import { decodeMessage, encodeMessage, intakeStreamName, subjects } from '@autellix/protocol';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { JetStreamPublishOptions } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, createInbox } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningScheduler } from '../src/index.ts';
import { CLAIM_GRACE_MS, DEFAULT_SERVICE_CONFIG, SchedulerActor, startScheduler } from '../src/index.ts';

const REPLIES: MessageType[] = ['session.opened', 'session.closed', 'token.chunk', 'call.result', 'error'];

describe('intake fast path: calls applied from the plain copy, claimed by the stream copy', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let scheduler: RunningScheduler | null = null;
  let engine: RunningEngine | null = null;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterEach(async () => {
    await engine?.stop();
    await scheduler?.stop();
    engine = null;
    scheduler = null;
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  /** Publishes into the intake and resolves with what comes back on a fresh inbox until `until` holds. */
  async function exchange<T extends MessageType>(
    kind: 'session' | 'call',
    body: (replyTo: string) => Outgoing<T>,
    until: (m: Message) => boolean,
    opts: Partial<JetStreamPublishOptions> = {},
    prefix?: string,
  ): Promise<Message[]> {
    const inbox = createInbox();
    const got: Message[] = [];
    const done = new Promise<Message[]>((resolve) => {
      nc.subscribe(inbox, {
        callback: (_e, m) => {
          const msg = decodeMessage(m.data, REPLIES);
          got.push(msg);
          if (until(msg)) resolve(got);
        },
      });
    });
    await nc.flush();
    await jetstream(nc).publish(subjects.intake(kind, prefix), encodeMessage(body(inbox)), opts);
    return done;
  }
  const open = (sessionId: string, prefix?: string) =>
    exchange<'session.open'>('session', (replyTo) => ({ type: 'session.open', sessionId, replyTo }), () => true, {}, prefix);
  const submit = (sessionId: string, callId: string, replyTo: string): Outgoing<'call.submit'> => ({
    type: 'call.submit',
    sessionId,
    callId,
    threadId: 't',
    parents: [],
    promptTokens: 200,
    maxTokens: 20,
    replyTo,
    stream: false,
  });
  const ended = (m: Message) => m.type === 'call.result' || m.type === 'error';
  const consumerIdle = async (prefix?: string) => {
    const info = await (await jetstreamManager(nc)).consumers.info(intakeStreamName(prefix), 'scheduler');
    return info.num_pending + info.num_ack_pending;
  };

  // With a message id, the stream copy is matched to the plain one by id and bytes and claimed
  // without being decoded again; without one, it is decoded and claimed by its call key. Each case
  // has a prefix of its own: a fresh table, so no recovery holds the fast path back.
  it.each([
    { msgID: undefined, prefix: 'autellix', copiesClaimed: 0 },
    { msgID: 'fast-1/c1', prefix: 'byid', copiesClaimed: 1 },
  ])('runs a call from the fast path, acknowledges its stream copy once written, and keeps its stream sequence across a restart (msgID $msgID)', async ({ msgID, prefix, copiesClaimed }) => {
    const config = { ...DEFAULT_SERVICE_CONFIG, prefix };
    scheduler = await startScheduler(server.url, config);
    engine = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'e0', speed: 50, actor: { ...DEFAULT_ENGINE_SERVICE.actor, prefix } });
    await open('fast-1', prefix);
    const out = await exchange<'call.submit'>('call', (r) => submit('fast-1', 'c1', r), ended, msgID === undefined ? {} : { msgID }, prefix);
    expect(out.at(-1)?.type).toBe('call.result');
    expect(scheduler.actor.counters.fastApplied).toBe(1);
    expect(scheduler.actor.counters.callsAccepted).toBe(1);
    expect(scheduler.actor.counters.redeliveries).toBe(0);
    await expect.poll(() => consumerIdle(prefix)).toBe(0);
    expect(scheduler.actor.counters.copiesClaimed).toBe(copiesClaimed);
    await expect.poll(() => scheduler?.actor.counters.callsCompleted).toBe(1);
    await scheduler.stop();
    // The restarted scheduler's table holds c1 with the stream copy's sequence: the same id
    // under a new message is a duplicate (an unclaimed call would have been claimed quietly).
    scheduler = await startScheduler(server.url, config);
    const dup = await exchange<'call.submit'>('call', (r) => submit('fast-1', 'c1', r), ended, { msgID: 'again' }, prefix);
    expect(dup.at(-1)).toMatchObject({ type: 'error', code: 'duplicate_call', callId: 'c1' });
    expect(scheduler.actor.counters.fastApplied).toBe(0);
  });

  it('with fastIntake off, calls wait for the durable consumer and still complete', async () => {
    scheduler = await startScheduler(server.url, { ...DEFAULT_SERVICE_CONFIG, fastIntake: false });
    engine = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'e0', speed: 50 });
    await open('slow-1');
    const out = await exchange<'call.submit'>('call', (r) => submit('slow-1', 'c1', r), ended);
    expect(out.at(-1)?.type).toBe('call.result');
    expect(scheduler.actor.counters.fastApplied).toBe(0);
    expect(scheduler.actor.counters.callsAccepted).toBe(1);
  });

  it('cancels a fast-path call whose publish the stream refused, once the claim grace has passed', async () => {
    let offsetMs = 0;
    // A prefix of its own: a fresh table, so no recovery holds the fast path back.
    const prefix = 'refused';
    const actor = new SchedulerActor(nc, { ...DEFAULT_SERVICE_CONFIG, prefix, sweepMs: 20 }, () => Date.now() + offsetMs);
    await actor.start();
    try {
      await open('refused-1', prefix);
      // No engine: the call is parked. The stream refuses the publish (wrong expected stream),
      // but plain subscribers of the subject still get it.
      const answer = exchange<'call.submit'>('call', (r) => submit('refused-1', 'c1', r), ended, { expect: { streamName: 'NOT_THE_INTAKE' } }, prefix);
      const refused = await answer.then(
        () => null,
        (err: Error) => err,
      );
      // The publish itself failed (the caller knows), the call was applied from the fast path.
      expect(refused).toBeInstanceOf(Error);
      await expect.poll(() => actor.counters.fastApplied).toBe(1);
      expect(actor.core.programs.get('refused-1')?.active.has('c1')).toBe(true);
      offsetMs = CLAIM_GRACE_MS + 1000;
      await expect.poll(() => actor.counters.fastUnclaimed).toBe(1);
      expect(actor.counters.callsCancelled).toBe(1);
      expect(actor.core.programs.get('refused-1')?.active.has('c1')).toBe(false);
    } finally {
      await actor.stop();
    }
  });
});
