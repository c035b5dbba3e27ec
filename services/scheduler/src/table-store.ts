import type { CallRecord, LifecycleCounts, ProgramRow, SchedulerCore } from '@autellix/core';
import { CallPhase, lifecycleRestore, lifecycleStateOf } from '@autellix/core';
import type { CallBody } from '@autellix/protocol';
import { decodeRaw, encode } from '@autellix/protocol';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { EndReason, LiveCall, Session } from './session-table.ts';

/** Format version of the persisted entries. */
const RECORD_VERSION = 3;
const META = 'meta';

/** A session's own record: its bookkeeping and process-table row (calls are separate records). */
interface PersistedSession {
  readonly id: string;
  readonly idleTtlMs: number;
  readonly lastActivity: number;
  readonly ended: EndReason | null;
  /** The row without `active` and `lifecycle` (both rebuilt from the call records on load). */
  readonly row: Omit<ProgramRow, 'active' | 'lifecycle'> | null;
}

/** One call's record: active (its process-table record and placement) or a tombstone. */
type PersistedCall =
  | { readonly rec: CallRecord; readonly live: Omit<LiveCall, 'submit'> & { submit: CallBody } }
  | { readonly finished: true; readonly submitSeq: number };

/** A record in an entry: `s` session, `c` call (with its session id), `m` the FIFO counter. */
type Rec =
  | { readonly t: 's'; readonly session: PersistedSession }
  | { readonly t: 'c'; readonly sessionId: string; readonly callId: string; readonly call: PersistedCall }
  | { readonly t: 'm'; readonly seqFloor: number };

/** One KV value: the records written together by one batch. */
interface Entry {
  readonly v: number;
  readonly records: readonly Rec[];
}

/** What a restart recovers. */
export interface RecoveredTable {
  readonly sessions: Session[];
  readonly ended: Map<string, EndReason>;
  readonly seqFloor: number;
}

/**
 * Removes old entry messages from the bucket's stream outright, once per load: delete markers
 * that versions before slot reuse left (a KV delete or purge leaves one per key, and the key
 * listing does not show them), and dead entries older than the oldest live one.
 */
export interface EntryRemover {
  /** Removes every message of every entry key (`e.*`) with a stream sequence below `revision`. */
  purgeEntriesBelow(revision: number): Promise<unknown>;
}

/** An `EntryRemover` for bucket `bucket` through the JetStream API (its stream is `KV_<bucket>`). */
export function bucketRemover(jsm: JetStreamManager, bucket: string): EntryRemover {
  const stream = `KV_${bucket}`;
  return { purgeEntriesBelow: (revision) => jsm.streams.purge(stream, { filter: `$KV.${bucket}.e.>`, seq: revision }) };
}

/** An entry's KV key: its slot number, zero-padded (the format of every version so far). */
const slotKey = (n: number): string => `e.${n.toString().padStart(12, '0')}`;
const recordKey = (r: Rec): string => (r.t === 's' ? `s/${r.session.id}` : r.t === 'c' ? `c/${r.sessionId}/${r.callId}` : META);

/**
 * The process table in a JetStream KV bucket, log-structured: each batch of changes (an intake
 * batch, a sweep) is ONE value, an entry, holding the records it changed (sessions with their
 * row, calls active or finished, the FIFO counter). The latest value of a record is the one in
 * the entry written last (highest stream revision). An entry is dead once none of its records is
 * the latest any more (or all belong to an ended session); its key (`e.<slot>`) is then a free
 * slot, and a later batch is written there. The bucket keeps one value per key (`history: 1`),
 * so that write replaces the dead entry in the stream: nothing is purged or deleted while the
 * scheduler runs (load tidies once, below), no marker is left, and the bucket holds the live
 * entries plus at most as many dead ones as were once live at the same time. One KV write per batch, not per record, and no other request: the
 * table costs the scheduler's intake one acknowledged publish per batch (a purge per dead entry,
 * as earlier versions did, was one JetStream API request per batch more). Load reads the entries
 * in revision order. The scheduler is the only writer; batches are written in order (the caller
 * serialises them).
 *
 * Invariants: a slot is in `free` only when no record's latest value is in it (so overwriting it
 * loses nothing); `live` has an entry for every written, not yet freed slot.
 */
export class TableStore {
  /** The next slot never used. */
  private nextSlot = 0;
  /** Slots holding dead entries or delete markers, to write to; the most recently freed first (a stack). */
  private readonly free: number[] = [];
  /** Record key -> slot of the entry holding its latest value. */
  private readonly latest = new Map<string, number>();
  /** Slot -> how many records its entry holds the latest value of. */
  private readonly live = new Map<number, number>();
  /** Session id -> its call record keys (to release them when the session ends). */
  private readonly callKeys = new Map<string, Set<string>>();

  /**
   * `kv` is read on load; writes go through `put` (an acknowledged JetStream publish to
   * `$KV.<bucket>.<key>`, see `AckedPublisher`); load tidies the stream through `remover`. The
   * bucket must keep one value per key (`history: 1`), or dead entries would stay in its stream
   * as history.
   */
  constructor(
    private readonly kv: KV,
    private readonly put: (key: string, data: Uint8Array) => Promise<unknown>,
    private readonly remover: EntryRemover,
  ) {}

  /** Load's purges that failed (what they would have removed stays until a later load). */
  purgeFailures = 0;

  /** Slots in use (live entries) and free (dead entries waiting to be overwritten); read by tests. */
  slots(): { readonly live: number; readonly free: number } {
    return { live: this.live.size, free: this.free.length };
  }

  /**
   * Writes one entry with what is dirty in `sessions` (each with its end reason, or null while
   * open) and the FIFO counter when given; clears their dirty marks (restored when the write
   * fails, which then throws). Nothing to write: nothing happens.
   */
  async save(core: SchedulerCore, sessions: readonly { readonly s: Session; readonly ended: EndReason | null }[], seqFloor: number | null): Promise<void> {
    const records: Rec[] = [];
    const endedIds: string[] = [];
    /** What was taken from the dirty marks, to put back if the write fails. */
    const taken: { s: Session; dirty: boolean; calls: string[] }[] = [];
    for (const { s, ended } of sessions) {
      taken.push({ s, dirty: s.dirty, calls: [...s.dirtyCalls] });
      const row = core.programs.get(s.id);
      if (s.dirty || ended !== null) {
        records.push({
          t: 's',
          session: {
            id: s.id,
            idleTtlMs: s.idleTtlMs,
            lastActivity: s.lastActivity,
            ended,
            row: row === undefined || ended !== null ? null : plainRow(row),
          },
        });
        s.dirty = false;
      }
      if (ended !== null) endedIds.push(s.id);
      else {
        for (const callId of s.dirtyCalls) {
          const live = s.calls.get(callId);
          const rec = row?.active.get(callId);
          let call: PersistedCall;
          if (live !== undefined && rec !== undefined) call = { rec: { ...rec }, live: { ...live } };
          else {
            const submitSeq = s.finished.get(callId);
            if (submitSeq === undefined) continue;
            call = { finished: true, submitSeq };
          }
          records.push({ t: 'c', sessionId: s.id, callId, call });
        }
      }
      s.dirtyCalls.clear();
    }
    if (seqFloor !== null) records.push({ t: 'm', seqFloor });
    if (records.length === 0) return;
    const n = this.free.pop() ?? this.nextSlot++;
    const entry: Entry = { v: RECORD_VERSION, records };
    try {
      await this.put(slotKey(n), encode(entry));
    } catch (err) {
      // The slot held a dead entry (or nothing) and may now hold this one, whose records are
      // written again by the next batch: free either way.
      this.free.push(n);
      // Not stored: the changes are dirty again, for the next write.
      for (const t of taken) {
        if (t.dirty) t.s.dirty = true;
        for (const c of t.calls) t.s.dirtyCalls.add(c);
      }
      throw err;
    }
    const dead = this.account(n, records);
    for (const id of endedIds) dead.push(...this.releaseSession(id));
    this.release(dead);
  }

  /** Makes `n` the holder of its records' latest values; returns entries left with none. */
  private account(n: number, records: readonly Rec[]): number[] {
    const dead: number[] = [];
    this.live.set(n, 0);
    for (const r of records) {
      const key = recordKey(r);
      const old = this.latest.get(key);
      if (old !== undefined && old !== n) {
        const left = (this.live.get(old) ?? 1) - 1;
        this.live.set(old, left);
        if (left === 0) dead.push(old);
      } else if (old === n) continue;
      this.latest.set(key, n);
      this.live.set(n, (this.live.get(n) ?? 0) + 1);
      if (r.t === 'c') {
        let keys = this.callKeys.get(r.sessionId);
        if (keys === undefined) {
          keys = new Set();
          this.callKeys.set(r.sessionId, keys);
        }
        keys.add(key);
      }
    }
    if ((this.live.get(n) ?? 0) === 0) dead.push(n);
    return dead;
  }

  /** An ended session's call records are no longer needed (its tombstone says enough). */
  private releaseSession(sessionId: string): number[] {
    const dead: number[] = [];
    for (const key of this.callKeys.get(sessionId) ?? []) {
      const holder = this.latest.get(key);
      if (holder === undefined) continue;
      this.latest.delete(key);
      const left = (this.live.get(holder) ?? 1) - 1;
      this.live.set(holder, left);
      if (left === 0) dead.push(holder);
    }
    this.callKeys.delete(sessionId);
    return dead;
  }

  /** Frees the slots of `entries` that hold no latest value (each once). */
  private release(entries: readonly number[]): void {
    for (const n of new Set(entries)) {
      if ((this.live.get(n) ?? 0) !== 0) continue;
      this.live.delete(n);
      this.free.push(n);
    }
  }

  /** Reads every entry back into `core` (rows restored, lifecycles rebuilt) and returns the sessions and tombstones. */
  async load(core: SchedulerCore): Promise<RecoveredTable> {
    const found: { n: number; revision: number; entry: Entry }[] = [];
    for await (const k of await this.kv.keys()) {
      if (!k.startsWith('e.')) continue;
      const n = Number(k.slice(2));
      if (!Number.isSafeInteger(n) || n < 0 || slotKey(n) !== k) throw new Error(`process-table key ${k} is not an entry slot (e.<12 digits>)`);
      this.nextSlot = Math.max(this.nextSlot, n + 1);
      const value = await this.kv.get(k);
      // Deleted since it was listed: free.
      if (value === null || value.value.length === 0) {
        this.free.push(n);
        continue;
      }
      const entry = decodeRaw(value.value) as Entry;
      if (entry.v !== RECORD_VERSION) throw new Error(`process-table entry ${k} has version ${String(entry.v)}, want ${RECORD_VERSION}`);
      found.push({ n, revision: value.revision, entry });
    }
    // Written order: a reused slot's entry is newer than its number says.
    found.sort((a, b) => a.revision - b.revision);
    const sessionRecords = new Map<string, PersistedSession>();
    const callRecords = new Map<string, Map<string, PersistedCall>>();
    let seqFloor = 0;
    for (const { n, entry } of found) {
      this.account(n, entry.records);
      for (const r of entry.records) {
        if (r.t === 'm') seqFloor = Math.max(seqFloor, r.seqFloor);
        else if (r.t === 's') sessionRecords.set(r.session.id, r.session);
        else {
          let calls = callRecords.get(r.sessionId);
          if (calls === undefined) {
            calls = new Map();
            callRecords.set(r.sessionId, calls);
          }
          calls.set(r.callId, r.call);
        }
      }
    }
    const ended = new Map<string, EndReason>();
    const sessions: Session[] = [];
    const dead: number[] = [];
    for (const [id, p] of sessionRecords) {
      if (p.ended !== null || p.row === null) {
        ended.set(id, p.ended ?? 'closed');
        dead.push(...this.releaseSession(id));
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
      const counts: { -readonly [K in keyof LifecycleCounts]: number } = { queued: 0, running: 0, preempted: 0 };
      for (const rec of active.values()) {
        if (rec.phase === CallPhase.queued) counts.queued += 1;
        else if (rec.phase === CallPhase.running) counts.running += 1;
        else if (rec.phase === CallPhase.preempted) counts.preempted += 1;
      }
      core.restoreProgram({ ...p.row, active, lifecycle: lifecycleRestore({ value: lifecycleStateOf(counts), context: counts }) });
      sessions.push(session);
    }
    for (const [n, left] of this.live) if (left === 0) dead.push(n);
    this.release(dead);
    // One purge of every entry message older than the oldest live entry: dead entries (their
    // slots are free either way) and delete markers of earlier versions.
    const revisionOf = new Map(found.map((f) => [f.n, f.revision]));
    let oldestLive = (found.at(-1)?.revision ?? 0) + 1;
    for (const n of this.live.keys()) oldestLive = Math.min(oldestLive, revisionOf.get(n) ?? oldestLive);
    try {
      await this.remover.purgeEntriesBelow(oldestLive);
    } catch {
      this.purgeFailures += 1;
    }
    core.advanceSeq(seqFloor);
    return { sessions, ended, seqFloor };
  }
}

function plainRow(row: ProgramRow): Omit<ProgramRow, 'active' | 'lifecycle'> {
  const { active: _a, lifecycle: _l, ...rest } = row;
  return rest;
}
