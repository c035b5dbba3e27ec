import type { CallRecord, ProgramRow, SchedulerCore } from '@autellix/core';
import { lifecyclePersist, lifecycleRestore } from '@autellix/core';
import type { CallBody } from '@autellix/protocol';
import { decodeRaw, encode } from '@autellix/protocol';
import type { KV } from '@nats-io/kv';
import type { EndReason, LiveCall, Session } from './session-table.ts';

/** Format version of a persisted session record. */
const RECORD_VERSION = 1;
const META_KEY = 'meta';

/** A session as persisted: its bookkeeping, its process-table row and its active calls. */
interface PersistedSession {
  readonly v: number;
  readonly id: string;
  readonly idleTtlMs: number;
  readonly lastActivity: number;
  readonly finished: readonly (readonly [string, number])[];
  readonly ended: EndReason | null;
  readonly row: Omit<ProgramRow, 'active' | 'lifecycle'> & { readonly lifecycle: string };
  readonly calls: readonly { readonly rec: CallRecord; readonly live: Omit<LiveCall, 'submit'> & { submit: CallBody } }[];
}

/** KV keys allow `[-/_=.a-zA-Z0-9]`; session ids may hold `:`, so keys are base64url of the id. */
function keyOf(sessionId: string): string {
  return `s.${Buffer.from(sessionId, 'utf8').toString('base64url')}`;
}

/** NaN and Infinity survive MessagePack as floats; plain objects only. */
function plainRow(row: ProgramRow): PersistedSession['row'] {
  const { active: _a, lifecycle, ...rest } = row;
  return { ...rest, lifecycle: JSON.stringify(lifecyclePersist(lifecycle)) };
}

/** What a restart recovers. */
export interface RecoveredTable {
  readonly sessions: Session[];
  readonly ended: Map<string, EndReason>;
  readonly seqFloor: number;
}

/**
 * The process table in a JetStream KV bucket: one record per session (open or ended), plus the
 * core's FIFO counter. A record is written whole (last writer wins; the scheduler is the only
 * writer). `save` of an ended session keeps a tombstone, so late calls get `session_ended`.
 */
export class TableStore {
  constructor(private readonly kv: KV) {}

  async save(core: SchedulerCore, s: Session, ended: EndReason | null): Promise<void> {
    const row = core.programs.get(s.id);
    const calls: PersistedSession['calls'][number][] = [];
    if (row !== undefined && ended === null) {
      for (const [callId, live] of s.calls) {
        const rec = row.active.get(callId);
        if (rec !== undefined) calls.push({ rec: { ...rec }, live: { ...live } });
      }
    }
    const record: PersistedSession = {
      v: RECORD_VERSION,
      id: s.id,
      idleTtlMs: s.idleTtlMs,
      lastActivity: s.lastActivity,
      finished: [...s.finished.entries()],
      ended,
      row: row === undefined ? emptyRow(s.id) : plainRow(row),
      calls,
    };
    await this.kv.put(keyOf(s.id), encode(record));
    s.dirty = false;
  }

  async saveMeta(seqFloor: number): Promise<void> {
    await this.kv.put(META_KEY, encode({ v: RECORD_VERSION, seqFloor }));
  }

  async forget(sessionId: string): Promise<void> {
    await this.kv.purge(keyOf(sessionId));
  }

  /** Reads every record back into `core` (rows restored) and returns the sessions and tombstones. */
  async load(core: SchedulerCore): Promise<RecoveredTable> {
    const sessions: Session[] = [];
    const ended = new Map<string, EndReason>();
    let seqFloor = 0;
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    for (const k of keys) {
      const entry = await this.kv.get(k);
      if (entry === null || entry.value.length === 0) continue;
      const raw = decodeRaw(entry.value) as Record<string, unknown>;
      if (k === META_KEY) {
        seqFloor = Math.max(seqFloor, Number(raw.seqFloor) || 0);
        continue;
      }
      const p = raw as unknown as PersistedSession;
      if (p.v !== RECORD_VERSION) throw new Error(`process-table record ${k} has version ${p.v}, want ${RECORD_VERSION}`);
      if (p.ended !== null) {
        ended.set(p.id, p.ended);
        continue;
      }
      const { lifecycle, ...rest } = p.row;
      const row: ProgramRow = { ...rest, active: new Map(), lifecycle: lifecycleRestore(JSON.parse(lifecycle)) };
      const session: Session = {
        id: p.id,
        idleTtlMs: p.idleTtlMs,
        lastActivity: p.lastActivity,
        finished: new Map(p.finished.map(([id, seq]) => [id, seq] as const)),
        calls: new Map(),
        dirty: false,
      };
      for (const c of p.calls) {
        row.active.set(c.rec.callId, { ...c.rec, parents: [...c.rec.parents] });
        session.calls.set(c.rec.callId, { ...c.live });
      }
      core.restoreProgram(row);
      sessions.push(session);
    }
    core.advanceSeq(seqFloor);
    return { sessions, ended, seqFloor };
  }
}

function emptyRow(id: string): PersistedSession['row'] {
  return {
    id,
    arrival: 0,
    scalar: 0,
    completedService: 0,
    completedWait: 0,
    pinnedEngine: null,
    lastArrival: 0,
    lastCompletion: null,
    callsCompleted: 0,
    promotions: 0,
    programClass: '*',
    remainingWork: Number.NaN,
    lifecycle: '{"value":"ended","context":{}}',
  };
}
