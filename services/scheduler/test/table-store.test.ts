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
  const store = (bucket = 't_programs', on: KV = kv): TableStore => new TableStore(on, (key, data) => publisher.publish(`$KV.${bucket}.${key}`, data), bucketRemover(jsm, bucket));
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

  it('restores sessions, active calls with their service, finished ids and tombstones; dead entries are overwritten, never purged', async () => {
    const core = newCore();
    const t = store();
    const s1 = newSession('s1', 1000, 0);
    core.openProgram('s1', 0);
    const rec = core.submit({ programId: 's1', callId: 'a', threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 0);
    core.addService(rec, 0.25);
    s1.calls.set('a', live('a', 3));
    s1.dirtyCalls.add('a');
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    // Call b finishes; call a gets more service: both rewritten in a second entry (slot 1), and
    // the first (slot 0) is dead: free, still in the stream until a write replaces it.
    const b = core.submit({ programId: 's1', callId: 'b', threadId: 't', parents: [], promptTokens: 10, maxOutputTokens: 5 }, 1);
    core.complete(b, 2);
    s1.finished.set('b', 4);
    core.addService(rec, 0.5);
    s1.dirty = true;
    s1.dirtyCalls.add('a');
    s1.dirtyCalls.add('b');
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    expect(t.slots()).toEqual({ live: 1, free: 1 });
    expect(await messages()).toBe(2);
    // A second session opens (its entry overwrites slot 0: no new message) and ends (its
    // tombstone in slot 2; slot 0 is dead again).
    const s2 = newSession('s2', 1000, 0);
    core.openProgram('s2', 0);
    await t.save(core, [{ s: s2, ended: null }], null);
    expect(t.slots()).toEqual({ live: 2, free: 0 });
    expect(await messages()).toBe(2);
    core.closeProgram('s2');
    await t.save(core, [{ s: s2, ended: 'closed' }], null);
    expect(t.slots()).toEqual({ live: 2, free: 1 });
    expect(await messages()).toBe(3);
    expect(await entries()).toBe(3);

    const core2 = newCore();
    const t2 = store();
    const back = await t2.load(core2);
    expect(back.sessions.map((s) => s.id)).toEqual(['s1']);
    expect(back.ended.get('s2')).toBe('closed');
    const row = core2.program('s1');
    expect(row.active.get('a')?.service).toBeCloseTo(0.75);
    expect(row.callsCompleted).toBe(1);
    expect(back.sessions[0]?.finished.get('b')).toBe(4);
    expect(back.sessions[0]?.calls.get('a')?.submitSeq).toBe(3);
    expect(core2.seqFloor).toBe(core.seqFloor);
    expect(t2.slots()).toEqual({ live: 2, free: 1 });

    // After the restart, call a's next value goes to the free slot 0, numbered below the entry
    // (slot 1) holding its previous value: a later load must still take the newer one (entries
    // are read in revision order, not slot order).
    const s1back = back.sessions[0];
    if (s1back === undefined) throw new Error('s1 not restored');
    const aBack = core2.programs.get('s1')?.active.get('a');
    if (aBack === undefined) throw new Error('call a not restored');
    core2.addService(aBack, 1);
    s1back.dirty = true;
    s1back.dirtyCalls.add('a');
    await t2.save(core2, [{ s: s1back, ended: null }], null);
    expect(await messages()).toBe(3);
    const core3 = newCore();
    const again = await store().load(core3);
    expect(again.sessions.map((s) => s.id)).toEqual(['s1']);
    expect(core3.program('s1').active.get('a')?.service).toBeCloseTo(1.75);
    expect(again.ended.get('s2')).toBe('closed');
  });

  it('a failed write leaves its changes dirty and its slot free for the next write', async () => {
    const bucket = 't_failing';
    const kv3 = await new Kvm(nc).create(bucket, { history: 1 });
    let failNext = true;
    const t = new TableStore(kv3, async (key, data) => {
      if (failNext) {
        failNext = false;
        throw new Error('no ack');
      }
      return publisher.publish(`$KV.${bucket}.${key}`, data);
    }, bucketRemover(jsm, bucket));
    const core = newCore();
    const s1 = newSession('s1', 1000, 0);
    core.openProgram('s1', 0);
    await expect(t.save(core, [{ s: s1, ended: null }], core.seqFloor)).rejects.toThrow('no ack');
    expect(s1.dirty).toBe(true);
    expect(t.slots()).toEqual({ live: 0, free: 1 });
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    expect(t.slots()).toEqual({ live: 1, free: 0 });
    expect(await messages(bucket)).toBe(1);
    const back = await store(bucket, kv3).load(newCore());
    expect(back.sessions.map((s) => s.id)).toEqual(['s1']);
  });

  it('load removes dead entries and delete markers older than the oldest live entry, once', async () => {
    const kv2 = await new Kvm(nc).create('t_markers', { history: 1 });
    // A marker an earlier version left (KV purge), older than any live entry.
    await kv2.put('e.000000000077', new Uint8Array([1]));
    await kv2.purge('e.000000000077');
    expect(await messages('t_markers')).toBe(1);
    const core = newCore();
    const s1 = newSession('s1', 1000, 0);
    core.openProgram('s1', 0);
    const t = store('t_markers', kv2);
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    // s1 and the FIFO counter rewritten: slot 0 dead, slot 1 live.
    s1.dirty = true;
    await t.save(core, [{ s: s1, ended: null }], core.seqFloor);
    expect(await messages('t_markers')).toBe(3);
    const t2 = store('t_markers', kv2);
    const back = await t2.load(newCore());
    expect(back.sessions.map((s) => s.id)).toEqual(['s1']);
    expect(await messages('t_markers')).toBe(1);
    expect(t2.slots()).toEqual({ live: 1, free: 1 });
    expect(t2.purgeFailures).toBe(0);
  });

  it('refuses a key that is not an entry slot rather than guess its order', async () => {
    const kv4 = await new Kvm(nc).create('t_badkey', { history: 1 });
    await kv4.put('e.12', new Uint8Array([1]));
    await expect(store('t_badkey', kv4).load(newCore())).rejects.toThrow('process-table key e.12 is not an entry slot');
  });
});
