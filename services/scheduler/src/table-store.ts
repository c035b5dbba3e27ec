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
 * Removes entries from the bucket's stream outright. A KV delete or purge would leave a marker
 * message per key, one per table batch for as long as the bucket lives; a stream purge by subject
 * leaves nothing.
 */
export interface EntryRemover {
  /** Removes every message of `key` (no marker left). */
  purgeKey(key: string): Promise<unknown>;
  /** Removes every message of every entry key (`e.*`) with a stream sequence below `revision`. */
  purgeEntriesBelow(revision: number): Promise<unknown>;
}

/** An `EntryRemover` for bucket `bucket` through the JetStream API (its stream is `KV_<bucket>`). */
export function bucketRemover(jsm: JetStreamManager, bucket: string): EntryRemover {
  const stream = `KV_${bucket}`;
  return {
    purgeKey: (key) => jsm.streams.purge(stream, { filter: `$KV.${bucket}.${key}` }),
    purgeEntriesBelow: (revision) => jsm.streams.purge(stream, { filter: `$KV.${bucket}.e.>`, seq: revision }),
  };
}

const entryKey = (n: number): string => `e.${n.toString().padStart(12, '0')}`;
const recordKey = (r: Rec): string => (r.t === 's' ? `s/${r.session.id}` : r.t === 'c' ? `c/${r.sessionId}/${r.callId}` : META);

/**
 * The process table in a JetStream KV bucket, log-structured: each batch of changes (an intake
 * batch, a sweep) is ONE value, `e.<n>`, holding the records it changed (sessions with their row,
 * calls active or finished, the FIFO counter). The latest value of a record is the one in the
 * highest entry. An entry is purged once none of its records is the latest any more (or belongs
 * to an ended session), so the bucket holds about the live table. Purges run in the background,
 * one after another (a failed one leaves a dead entry, which the next load finds dead and purges
 * again); load also removes every entry message older than the oldest live entry in one purge.
 * Load reads the entries in order. One KV write per batch, not per record: the table costs the
 * scheduler's intake one acknowledged publish per batch. The scheduler is the only writer;
 * batches are written in order (the caller serialises them).
 */
export class TableStore {
  private next = 0;
  /** Record key -> entry holding its latest value. */
  private readonly latest = new Map<string, number>();
  /** Entry -> how many records it holds the latest value of. */
  private readonly live = new Map<number, number>();
  /** Session id -> its call record keys (to release them when the session ends). */
  private readonly callKeys = new Map<string, Set<string>>();
  /** The background purges, chained. */
  private purging: Promise<void> = Promise.resolve();
  /** Purges that failed (their entries stay until the next load). */
  purgeFailures = 0;

  /**
   * `kv` is read on load; writes go through `put` (an acknowledged JetStream publish to
   * `$KV.<bucket>.<key>`, see `AckedPublisher`); dead entries are removed through `remover`.
   */
  constructor(
    private readonly kv: KV,
    private readonly put: (key: string, data: Uint8Array) => Promise<unknown>,
    private readonly remover: EntryRemover,
  ) {}

  /** Resolves once every purge started so far has finished (or failed). */
  settled(): Promise<void> {
    return this.purging;
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
    const n = this.next++;
    const entry: Entry = { v: RECORD_VERSION, records };
    try {
      await this.put(entryKey(n), encode(entry));
    } catch (err) {
      // Not stored: the changes are dirty again, for the next write.
      for (const t of taken) {
        if (t.dirty) t.s.dirty = true;
        for (const c of t.calls) t.s.dirtyCalls.add(c);
      }
      throw err;
    }
    const dead = this.account(n, records);
    for (const id of endedIds) dead.push(...this.releaseSession(id));
    this.purge(dead);
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

  /** Queues the removal of `entries` that hold no latest value (each once). */
  private purge(entries: readonly number[]): void {
    const keys: string[] = [];
    for (const n of new Set(entries)) {
      if ((this.live.get(n) ?? 0) !== 0) continue;
      this.live.delete(n);
      keys.push(entryKey(n));
    }
    if (keys.length === 0) return;
    this.purging = this.purging.then(async () => {
      for (const key of keys) {
        try {
          await this.remover.purgeKey(key);
        } catch {
          this.purgeFailures += 1;
        }
      }
    });
  }

  /** Reads every entry back into `core` (rows restored, lifecycles rebuilt) and returns the sessions and tombstones. */
  async load(core: SchedulerCore): Promise<RecoveredTable> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) if (k.startsWith('e.')) keys.push(k);
    keys.sort();
    const sessionRecords = new Map<string, PersistedSession>();
    const callRecords = new Map<string, Map<string, PersistedCall>>();
    let seqFloor = 0;
    /** Entry number -> its stream sequence. */
    const revisions = new Map<number, number>();
    let lastRevision = 0;
    for (const k of keys) {
      const value = await this.kv.get(k);
      if (value === null || value.value.length === 0) continue;
      revisions.set(Number(k.slice(2)), value.revision);
      lastRevision = Math.max(lastRevision, value.revision);
      const entry = decodeRaw(value.value) as Entry;
      if (entry.v !== RECORD_VERSION) throw new Error(`process-table entry ${k} has version ${String(entry.v)}, want ${RECORD_VERSION}`);
      const n = Number(k.slice(2));
      this.next = Math.max(this.next, n + 1);
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
    // Everything older than the oldest live entry goes in one purge: dead entries and any delete
    // markers an earlier version left behind.
    let oldestLive = lastRevision + 1;
    for (const [n, left] of this.live) if (left > 0) oldestLive = Math.min(oldestLive, revisions.get(n) ?? oldestLive);
    try {
      await this.remover.purgeEntriesBelow(oldestLive);
    } catch {
      this.purgeFailures += 1;
    }
    this.purge(dead);
    await this.settled();
    core.advanceSeq(seqFloor);
    return { sessions, ended, seqFloor };
  }
}

function plainRow(row: ProgramRow): Omit<ProgramRow, 'active' | 'lifecycle'> {
  const { active: _a, lifecycle: _l, ...rest } = row;
  return rest;
}
