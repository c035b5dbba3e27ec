import { DEFAULT_SCHEDULER_CONFIG, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import type { NatsServerHandle } from '@autellix/testkit';
import { startNatsServer } from '@autellix/testkit';
import type { JetStreamManager } from '@nats-io/jetstream';
import { jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckedPublisher } from '@autellix/acked-publish';
import type { LiveCall } from '../src/session-table.ts';
import { newSession } from '../src/session-table.ts';
import { bucketRemover, TableStore } from '../src/table-store.ts';

const newCore = (): SchedulerCore => new SchedulerCore(getPolicy('plas'), DEFAULT_SCHEDULER_CONFIG, getBalancer('autellix'));

function live(callId: string, seq: number): LiveCall {
  return {
    submit: { sessionId: 's1', callId, threadId: 't', parents: [], promptTokens: 10, maxTokens: 5, replyTo: 'r', stream: false },
    submitSeq: seq,
    attempt: 0,
    engine: 'e0',
    acked: true,
    assignedAt: 0,
    missingSince: null,
    resultSeenAt: null,
    service: 0,
    wait: 0,
  };
}

describe('TableStore (log-structured process table in JetStream KV)', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let kv: KV;
  let publisher: AckedPublisher;
  let jsm: JetStreamManager;
  const store = (bucket = 't_programs', on: KV = kv): TableStore =>
    new TableStore(on, (key, data) => publisher.publish(`$KV.${bucket}.${key}`, data), bucketRemover(jsm, bucket));
  /** Messages in the bucket's stream: entries, and any delete markers. */
  const messages = async (bucket = 't_programs'): Promise<number> => (await jsm.streams.info(`KV_${bucket}`)).state.messages;
  const entries = async (): Promise<number> => {
    let n = 0;
    for await (const k of await kv.keys()) if (k.startsWith('e.')) n += 1;
    return n;
  };

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    kv = await new Kvm(nc).create('t_programs', { history: 1 });
    jsm = await jetstreamManager(nc);
    publisher = new AckedPublisher(nc);
  });
  afterAll(async () => {
    publisher?.close();
    await nc?.close();
    await server?.stop();
  });

  it('restores sessions, active calls with their service, finished ids and tombstones; old entries are purged', async () => {
    const core = newCore();
    const t = store();
    const s1 = newSession('s1', 1000, 0);
    core.openProgram('s1', 0);
    const rec = core.submit({ programId: 's1', callId: 'a', threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 0);
    core.addService(rec, 0.25);
    s1.calls.set('a', live('a', 3));
    s1.dirtyCalls.add('a');
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    // Call b finishes; call a gets more service: both rewritten in a second entry.
    const b = core.submit({ programId: 's1', callId: 'b', threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 1);
    core.complete(b, 2);
    s1.finished.set('b', 4);
    core.addService(rec, 0.5);
    s1.dirty = true;
    s1.dirtyCalls.add('a');
    s1.dirtyCalls.add('b');
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    await t.settled();
    expect(await entries()).toBe(1);
    // The first entry is gone from the stream without a marker.
    expect(await messages()).toBe(1);
    // A second session opens and ends.
    const s2 = newSession('s2', 1000, 0);
    core.openProgram('s2', 0);
    await t.save(core, [{ s: s2, ended: null }], null);
    core.closeProgram('s2');
    await t.save(core, [{ s: s2, ended: 'closed' }], null);

    const core2 = newCore();
    const back = await store().load(core2);
    expect(back.sessions.map((s) => s.id)).toEqual(['s1']);
    expect(back.ended.get('s2')).toBe('closed');
    const row = core2.program('s1');
    expect(row.active.get('a')?.service).toBeCloseTo(0.75);
    expect(row.callsCompleted).toBe(1);
    expect(back.sessions[0]?.finished.get('b')).toBe(4);
    expect(back.sessions[0]?.calls.get('a')?.submitSeq).toBe(3);
    expect(core2.seqFloor).toBe(core.seqFloor);
    // s1's entry and s2's tombstone are left; s2's first entry went without a marker.
    expect(await messages()).toBe(2);
    expect(await entries()).toBe(2);
  });

  it('load removes entries and delete markers older than the oldest live entry', async () => {
    const kv2 = await new Kvm(nc).create('t_markers', { history: 1 });
    // A marker an earlier version left (KV purge), older than any live entry.
    await kv2.put('e.000000000077', new Uint8Array([1]));
    await kv2.purge('e.000000000077');
    expect(await messages('t_markers')).toBe(1);
    const core = newCore();
    const s1 = newSession('s1', 1000, 0);
    core.openProgram('s1', 0);
    await store('t_markers', kv2).save(core, [{ s: s1, ended: null }], core.seqFloor);
    expect(await messages('t_markers')).toBe(2);
    const back = await store('t_markers', kv2).load(newCore());
    expect(back.sessions.map((s) => s.id)).toEqual(['s1']);
    expect(await messages('t_markers')).toBe(1);
  });
});
