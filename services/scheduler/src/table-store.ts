import type { CallRecord, LifecycleCounts, ProgramRow, SchedulerCore } from '@autellix/core';
import { CallPhase, lifecycleRestore, lifecycleStateOf } from '@autellix/core';
import type { CallBody } from '@autellix/protocol';
import { decodeRaw, encode } from '@autellix/protocol';
import type { KV } from '@nats-io/kv';
import type { EndReason, LiveCall, Session } from './session-table.ts';

/** Format version of the persisted records. */
const RECORD_VERSION = 2;
const META_KEY = 'meta';

/** A session's own record: its bookkeeping and process-table row (calls are separate records). */
interface PersistedSession {
  readonly v: number;
  readonly id: string;
  readonly idleTtlMs: number;
  readonly lastActivity: number;
  readonly ended: EndReason | null;
  /** The row without `active` and `lifecycle` (both rebuilt from the call records on load). */
  readonly row: Omit<ProgramRow, 'active' | 'lifecycle'> | null;
}

/** One call's record: active (with its process-table record and placement) or a tombstone. */
type PersistedCall =
  | { readonly v: number; readonly rec: CallRecord; readonly live: Omit<LiveCall, 'submit'> & { submit: CallBody } }
  | { readonly v: number; readonly finished: true; readonly submitSeq: number };

/** KV keys allow `[-/_=.a-zA-Z0-9]`; ids may hold `:`, so key parts are base64url. */
function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}
function unb64(s: string): string {
  return Buffer.from(s, 'base64url').toString('utf8');
}
const sessionKey = (sessionId: string): string => `s.${b64(sessionId)}`;
const callKeyOf = (sessionId: string, callId: string): string => `c.${b64(sessionId)}.${b64(callId)}`;

/** What a restart recovers. */
export interface RecoveredTable {
  readonly sessions: Session[];
  readonly ended: Map<string, EndReason>;
  readonly seqFloor: number;
}

/**
 * The process table in a JetStream KV bucket, as small records so a write costs what changed:
 * `s.<session>` (bookkeeping and the row's scalars, rewritten when a call finishes or the session
 * opens or ends), `c.<session>.<call>` (an active call's record and placement, rewritten as its
 * placement or attained service changes; a tombstone once it finished), and `meta` (the core's
 * FIFO counter). The scheduler is the only writer; writes of one session are ordered by the
 * caller. Lifecycle snapshots are not stored: on load each row's lifecycle is rebuilt from the
 * phases of its active calls, so it always matches them.
 */
export class TableStore {
  /**
   * `kv` is read on load; writes go through `put` (an acknowledged JetStream publish to the
   * bucket's subject `$KV.<bucket>.<key>`, see `AckedPublisher`).
   */
  constructor(
    private readonly kv: KV,
    private readonly put: (key: string, data: Uint8Array) => Promise<unknown>,
  ) {}

  /** Writes what is dirty in `s` (its record, its dirty calls); `ended` writes the session's tombstone. */
  async save(core: SchedulerCore, s: Session, ended: EndReason | null): Promise<void> {
    const writes: Promise<unknown>[] = [];
    const row = core.programs.get(s.id);
    if (s.dirty || ended !== null) {
      const record: PersistedSession = {
        v: RECORD_VERSION,
        id: s.id,
        idleTtlMs: s.idleTtlMs,
        lastActivity: s.lastActivity,
        ended,
        row: row === undefined || ended !== null ? null : plainRow(row),
      };
      s.dirty = false;
      writes.push(this.put(sessionKey(s.id), encode(record)));
    }
    if (ended === null) {
      for (const callId of s.dirtyCalls) {
        const live = s.calls.get(callId);
        const rec = row?.active.get(callId);
        let record: PersistedCall;
        if (live !== undefined && rec !== undefined) record = { v: RECORD_VERSION, rec: { ...rec }, live: { ...live } };
        else {
          const submitSeq = s.finished.get(callId);
          if (submitSeq === undefined) continue;
          record = { v: RECORD_VERSION, finished: true, submitSeq };
        }
        writes.push(this.put(callKeyOf(s.id, callId), encode(record)));
      }
    }
    s.dirtyCalls.clear();
    await Promise.all(writes);
  }

  async saveMeta(seqFloor: number): Promise<void> {
    await this.put(META_KEY, encode({ v: RECORD_VERSION, seqFloor }));
  }

  /** Reads every record back into `core` (rows restored, lifecycles rebuilt) and returns the sessions and tombstones. */
  async load(core: SchedulerCore): Promise<RecoveredTable> {
    const ended = new Map<string, EndReason>();
    let seqFloor = 0;
    const sessionRecords = new Map<string, PersistedSession>();
    const callRecords = new Map<string, [string, PersistedCall][]>();
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    for (const k of keys) {
      const entry = await this.kv.get(k);
      if (entry === null || entry.value.length === 0) continue;
      const raw = decodeRaw(entry.value) as Record<string, unknown>;
      if (raw.v !== RECORD_VERSION) throw new Error(`process-table record ${k} has version ${String(raw.v)}, want ${RECORD_VERSION}`);
      if (k === META_KEY) {
        seqFloor = Math.max(seqFloor, Number(raw.seqFloor) || 0);
      } else if (k.startsWith('s.')) {
        sessionRecords.set(unb64(k.slice(2)), raw as unknown as PersistedSession);
      } else if (k.startsWith('c.')) {
        const [, sid, cid] = k.split('.');
        const sessionId = unb64(sid ?? '');
        const list = callRecords.get(sessionId) ?? [];
        list.push([unb64(cid ?? ''), raw as unknown as PersistedCall]);
        callRecords.set(sessionId, list);
      }
    }
    const sessions: Session[] = [];
    for (const [id, p] of sessionRecords) {
      if (p.ended !== null || p.row === null) {
        ended.set(id, p.ended ?? 'closed');
        continue;
      }
      const session: Session = {
        id,
        idleTtlMs: p.idleTtlMs,
        lastActivity: p.lastActivity,
        finished: new Map(),
        calls: new Map(),
        dirty: false,
        dirtyCalls: new Set(),
      };
      const active = new Map<string, CallRecord>();
      for (const [callId, c] of callRecords.get(id) ?? []) {
        if ('finished' in c) {
          session.finished.set(callId, c.submitSeq);
          continue;
        }
        active.set(callId, { ...c.rec, parents: [...c.rec.parents] });
        session.calls.set(callId, { ...c.live, resultSeenAt: c.live.resultSeenAt ?? null });
      }
      // A call finished after its active record was written keeps only the tombstone's word.
      for (const callId of session.finished.keys()) {
        active.delete(callId);
        session.calls.delete(callId);
      }
      const counts: { -readonly [K in keyof LifecycleCounts]: number } = { queued: 0, running: 0, preempted: 0 };
      for (const rec of active.values()) {
        if (rec.phase === CallPhase.queued) counts.queued += 1;
        else if (rec.phase === CallPhase.running) counts.running += 1;
        else if (rec.phase === CallPhase.preempted) counts.preempted += 1;
      }
      const row: ProgramRow = { ...p.row, active, lifecycle: lifecycleRestore({ value: lifecycleStateOf(counts), context: counts }) };
      core.restoreProgram(row);
      sessions.push(session);
    }
    core.advanceSeq(seqFloor);
    return { sessions, ended, seqFloor };
  }
}

function plainRow(row: ProgramRow): Omit<ProgramRow, 'active' | 'lifecycle'> {
  const { active: _a, lifecycle: _l, ...rest } = row;
  return rest;
}
