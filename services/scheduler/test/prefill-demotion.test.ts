import type { CallAssign, CallPriority, Message } from '@autellix/protocol';
import { decodeMessage, encodeMessage, subjects } from '@autellix/protocol';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect, createInbox } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningScheduler } from '../src/index.ts';
import { DEFAULT_SERVICE_CONFIG, startScheduler } from '../src/index.ts';

const ENGINE = 'raw-e';

/**
 * The test plays an engine on the wire (docs/protocol.md section 8): it heartbeats, acknowledges
 * its assignment and reports progress itself, so it decides what `prefilling` says.
 */
describe('no demotion part way through a prefill (call.progress prefilling)', () => {
  let server: NatsServerHandle;
  let scheduler: RunningScheduler;
  let nc: NatsConnection;
  const control: Message[] = [];
  let assigned: (a: CallAssign) => void = () => {};
  const assignment = new Promise<CallAssign>((resolve) => {
    assigned = resolve;
  });
  let beat: ReturnType<typeof setInterval> | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    scheduler = await startScheduler(server.url, { ...DEFAULT_SERVICE_CONFIG, policy: 'plas' });
    nc = await connect({ servers: server.url });
    nc.subscribe(subjects.engineAssign(ENGINE), {
      callback: (_e, m) => {
        const a = decodeMessage(m.data, ['call.assign']) as CallAssign;
        m.respond(encodeMessage<'assign.ack'>({ type: 'assign.ack', engineId: ENGINE, sessionId: a.sessionId, callId: a.callId }));
        assigned(a);
      },
    });
    nc.subscribe(subjects.engineControl(ENGINE), {
      callback: (_e, m) => {
        control.push(decodeMessage(m.data, ['call.priority', 'call.revoke']));
      },
    });
    let held: string[] = [];
    const heartbeat = () =>
      nc.publish(
        subjects.heartbeat(ENGINE),
        encodeMessage<'engine.heartbeat'>({ type: 'engine.heartbeat', engineId: ENGINE, backend: 'raw', running: held.length, queued: 0, kvUsed: 0, maxBatch: 8, deadAfterMs: 5000, calls: held }),
      );
    void assignment.then((a) => {
      held = [`${a.sessionId}/${a.callId}`];
    });
    heartbeat();
    beat = setInterval(heartbeat, 200);
    await nc.flush();
  });
  afterAll(async () => {
    clearInterval(beat);
    await nc?.close();
    await scheduler?.stop();
    await server?.stop();
  });

  const progress = (a: CallAssign, service: number, prefilling: boolean) =>
    nc.publish(
      subjects.progress(ENGINE),
      encodeMessage<'call.progress'>({ type: 'call.progress', engineId: ENGINE, items: [{ sessionId: a.sessionId, callId: a.callId, service, wait: 0, running: true, prefilling }] }),
    );
  const priorities = () => control.filter((m): m is CallPriority => m.type === 'call.priority');

  it('counts the prefill\'s service, and demotes one level only at the report that ends it', async () => {
    const js = jetstream(nc);
    const inbox = createInbox();
    nc.subscribe(inbox, { callback: () => {} });
    await js.publish(subjects.intake('session'), encodeMessage<'session.open'>({ type: 'session.open', sessionId: 'pf', replyTo: inbox }));
    // Over the 2048-token threshold: pinned to the only engine, assigned to it directly.
    await js.publish(
      subjects.intake('call'),
      encodeMessage<'call.submit'>({ type: 'call.submit', sessionId: 'pf', callId: 'c1', threadId: 't', parents: [], promptTokens: 3000, maxTokens: 16, stream: false, replyTo: inbox }),
    );
    const a = await assignment;
    expect(a.level).toBe(0);
    // 2.5 s and then 3.5 s of service (level 0's quantum is 1 s, level 1's 1 s) while prefilling.
    progress(a, 2.5, true);
    progress(a, 3.5, true);
    await nc.flush();
    const serviceSeen = async (): Promise<number> => {
      const r = await nc.request(subjects.monitor(), encodeMessage<'monitor.request'>({ type: 'monitor.request', programId: 'pf' }), { timeout: 2000 });
      const m = decodeMessage(r.data, ['monitor']);
      return m.type === 'monitor' ? (m.programs.find((p) => p.programId === 'pf')?.service ?? 0) : 0;
    };
    // The scheduler has taken both reports once its live view shows their service.
    let seen = 0;
    for (let i = 0; i < 100 && seen < 3.5; i++) {
      seen = await serviceSeen();
      if (seen < 3.5) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBeCloseTo(3.5, 9);
    expect(priorities()).toHaveLength(0);
    // The prefill ends: one demotion, to level 1, not two.
    progress(a, 3.6, false);
    for (let i = 0; i < 100 && priorities().length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(priorities()).toHaveLength(1);
    expect(priorities()[0]).toMatchObject({ sessionId: 'pf', callId: 'c1', level: 1 });
  });
});
