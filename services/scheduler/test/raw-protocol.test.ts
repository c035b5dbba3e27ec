import type { RunningEngine } from '@autellix/engine';
import { DEFAULT_ENGINE_SERVICE, startEngine } from '@autellix/engine';
import type { Message, MessageType, Outgoing } from '@autellix/protocol';
import { decodeMessage, encodeMessage, subjects } from '@autellix/protocol';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, createInbox } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningScheduler } from '../src/index.ts';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '../src/index.ts';

const ALL: MessageType[] = ['session.opened', 'session.closed', 'token.chunk', 'call.result', 'error'];

describe('raw protocol against the live scheduler and a sim engine', () => {
  let server: NatsServerHandle;
  let scheduler: RunningScheduler;
  let engine: RunningEngine;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    scheduler = await startScheduler(server.url, { ...DEFAULT_SERVICE_CONFIG, maxPromptTokens: 4096 });
    engine = await startEngine({ ...DEFAULT_ENGINE_SERVICE, servers: server.url, engineId: 'e0', speed: 50 });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await engine?.stop();
    await scheduler?.stop();
    await server?.stop();
  });

  /** The scheduler's `autellix_scheduler_calls_finished_total` for one outcome label (0 when unset). */
  async function finishedMetric(outcome: string): Promise<number> {
    const values = (await scheduler.metrics.registry.getSingleMetric('autellix_scheduler_calls_finished_total')?.get())?.values ?? [];
    return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  }

  /** Publishes into the intake stream and collects what comes back on a fresh inbox until `until` says stop. */
  async function exchange<T extends MessageType>(
    kind: 'session' | 'call' | 'cancel',
    body: (replyTo: string) => Outgoing<T>,
    until: (m: Message) => boolean,
  ): Promise<Message[]> {
    const inbox = createInbox();
    const got: Message[] = [];
    const done = new Promise<void>((resolve) => {
      nc.subscribe(inbox, {
        callback: (_e, m) => {
          const msg = decodeMessage(m.data, ALL);
          got.push(msg);
          if (until(msg)) resolve();
        },
      });
    });
    await nc.flush();
    await jetstream(nc).publish(subjects.intake(kind), encodeMessage(body(inbox)));
    await done;
    return got;
  }

  it('opens a session, streams a call and returns its result', async () => {
    const opened = await exchange<'session.open'>(
      'session',
      (replyTo) => ({ type: 'session.open', sessionId: 'raw-1', replyTo }),
      () => true,
    );
    expect(opened[0]).toMatchObject({ type: 'session.opened', sessionId: 'raw-1', existing: false });
    const out = await exchange<'call.submit'>(
      'call',
      (replyTo) => ({
        type: 'call.submit',
        sessionId: 'raw-1',
        callId: 'c1',
        threadId: 't',
        parents: [],
        promptTokens: 300,
        maxTokens: 40,
        replyTo,
        stream: true,
      }),
      (m) => m.type === 'call.result' || m.type === 'error',
    );
    const result = out.at(-1);
    expect(result?.type).toBe('call.result');
    if (result?.type !== 'call.result') return;
    expect(result.usage.completionTokens).toBe(40);
    // The engine's accounts, as it reports them to the scheduler in call.done.
    expect(result.service).toBeGreaterThan(0);
    expect(result.wait).toBeGreaterThanOrEqual(0);
    const chunks = out.filter((m) => m.type === 'token.chunk');
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.reduce((s, c) => s + (c.type === 'token.chunk' ? c.tokens : 0), 0)).toBe(40);
  });

  it('answers a status request with sessions, engines and counters', async () => {
    const status = async () =>
      decodeMessage((await nc.request(subjects.status(), encodeMessage<'status.request'>({ type: 'status.request' }), { timeout: 2000 })).data, [
        'status',
      ]);
    // The call's outcome reaches the scheduler through the stream just after its result reached us.
    await expect.poll(async () => (await status()).counters.callsCompleted).toBe(1);
    const st = await status();
    expect(st.policy).toBe('plas');
    expect(st.sessions).toBe(1);
    expect(st.activeCalls).toBe(0);
    expect(st.engines.map((e) => e.engineId)).toEqual(['e0']);
    expect(st.recovering).toBe(false);
  });

  it('answers a call in an unknown session with a typed error', async () => {
    const out = await exchange<'call.submit'>(
      'call',
      (replyTo) => ({
        type: 'call.submit',
        sessionId: 'nobody',
        callId: 'c1',
        threadId: 't',
        parents: [],
        promptTokens: 10,
        maxTokens: 5,
        replyTo,
        stream: false,
      }),
      () => true,
    );
    expect(out[0]).toMatchObject({ type: 'error', code: 'unknown_session', sessionId: 'nobody', callId: 'c1' });
  });

  it('counts an outcome that arrives after its session closed (the caller closed on the result)', async () => {
    await exchange<'session.open'>('session', (replyTo) => ({ type: 'session.open', sessionId: 'raw-late', replyTo }), () => true);
    // A long call: still on the engine when the session closes.
    const call = exchange<'call.submit'>(
      'call',
      (replyTo) => ({ type: 'call.submit', sessionId: 'raw-late', callId: 'c1', threadId: 't', parents: [], promptTokens: 10, maxTokens: 4000, replyTo, stream: false }),
      (m) => m.type === 'call.result' || m.type === 'error',
    );
    await expect.poll(() => scheduler.actor.core.programs.get('raw-late')?.active.get('c1')?.engine ?? null).toBe('e0');
    const before = { ...scheduler.actor.counters };
    const doneBefore = await finishedMetric('done');
    const endedBefore = await finishedMetric('session_ended');
    const closed = exchange<'session.close'>('session', (replyTo) => ({ type: 'session.close', sessionId: 'raw-late', replyTo }), (m) => m.type === 'session.closed');
    expect((await call).at(-1)).toMatchObject({ type: 'error', code: 'session_ended', callId: 'c1' });
    expect(scheduler.actor.counters.callsEndedWithSession).toBe(before.callsEndedWithSession + 1);
    // The engine had finished the call just before the revoke reached it: its outcome comes after
    // the close, and the close's answer waits for it.
    const done = { type: 'call.done', engineId: 'e0', sessionId: 'raw-late', callId: 'c1', service: 100, wait: 0, completionTokens: 4000, cachedTokens: 0, preemptions: 0 } as const;
    await jetstream(nc).publish(subjects.outcome('e0'), encodeMessage<'call.done'>(done));
    expect((await closed).at(-1)).toMatchObject({ type: 'session.closed', sessionId: 'raw-late', reason: 'closed', callsCompleted: 1, service: 100 });
    expect(scheduler.actor.counters.lateOutcomes).toBe(before.lateOutcomes + 1);
    expect(scheduler.actor.counters.callsCompleted).toBe(before.callsCompleted + 1);
    // The metrics count it as done, not as ended with its session.
    expect(await finishedMetric('done')).toBe(doneBefore + 1);
    expect(await finishedMetric('session_ended')).toBe(endedBefore);
    // Only once: a second copy, or one from another engine, is ignored.
    await jetstream(nc).publish(subjects.outcome('e0'), encodeMessage<'call.done'>(done));
    await jetstream(nc).publish(subjects.outcome('e0'), encodeMessage<'call.done'>({ ...done, callId: 'c2' }));
    // The intake stream is applied in order: once a later message is answered, those two were applied.
    await exchange<'session.open'>('session', (replyTo) => ({ type: 'session.open', sessionId: 'raw-after', replyTo }), () => true);
    expect(scheduler.actor.counters.lateOutcomes).toBe(before.lateOutcomes + 1);
    expect(scheduler.actor.counters.callsCompleted).toBe(before.callsCompleted + 1);
  });

  it('a call revoked with its session and never reported is counted as session_ended once the grace has passed', async () => {
    await exchange<'session.open'>('session', (replyTo) => ({ type: 'session.open', sessionId: 'raw-revoked', replyTo }), () => true);
    const call = exchange<'call.submit'>(
      'call',
      (replyTo) => ({ type: 'call.submit', sessionId: 'raw-revoked', callId: 'c1', threadId: 't', parents: [], promptTokens: 10, maxTokens: 4000, replyTo, stream: false }),
      (m) => m.type === 'call.result' || m.type === 'error',
    );
    await expect.poll(() => scheduler.actor.core.programs.get('raw-revoked')?.active.get('c1')?.engine ?? null).toBe('e0');
    const endedBefore = await finishedMetric('session_ended');
    const closed = exchange<'session.close'>('session', (replyTo) => ({ type: 'session.close', sessionId: 'raw-revoked', replyTo }), (m) => m.type === 'session.closed');
    expect((await call).at(-1)).toMatchObject({ type: 'error', code: 'session_ended', callId: 'c1' });
    // Not at the close: its outcome might still come (missingGraceMs, 2 s by default). The close's
    // answer comes once it is given up on, without it.
    expect(await finishedMetric('session_ended')).toBe(endedBefore);
    expect((await closed).at(-1)).toMatchObject({ type: 'session.closed', sessionId: 'raw-revoked', callsCompleted: 0, service: 0 });
    expect(await finishedMetric('session_ended')).toBe(endedBefore + 1);
  });

  it("lists a finished call in the engine's heartbeats as finished, never as held: the whole 30 s at least once a second, the last 2 s in between", async () => {
    const beats: { calls: readonly string[]; finished: readonly string[] }[] = [];
    const sub = nc.subscribe(subjects.heartbeat('e0'), {
      callback: (_e, m) => {
        const hb = decodeMessage(m.data, ['engine.heartbeat']);
        beats.push({ calls: hb.calls, finished: hb.finished ?? [] });
      },
    });
    // Call raw-1/c1 (the first test) finished seconds ago: more than 2 s, less than 30 s, for most of this window.
    await new Promise((r) => setTimeout(r, 4_500));
    sub.unsubscribe();
    const key = 'raw-1/c1';
    expect(beats.length).toBeGreaterThanOrEqual(10);
    expect(beats.some((b) => b.calls.includes(key))).toBe(false);
    const listing = beats.filter((b) => b.finished.includes(key)).length;
    expect(listing).toBeGreaterThanOrEqual(3);
    expect(listing).toBeLessThan(beats.length);
  });
});
