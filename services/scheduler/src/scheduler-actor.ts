import type { CallRecord } from '@autellix/core';
import { CallStateError, getBalancer, getPolicy, SchedulerCore } from '@autellix/core';
import type { CallSubmit, MessageType, Outgoing } from '@autellix/protocol';
import {
  decodeMessage,
  encodeMessage,
  engineOfSubject,
  ErrorCode,
  errorMessage,
  intakeStreamName,
  pickCallBody,
  processTableBucket,
  ProtocolError,
  RESULT_RETENTION_MS,
  resultsStreamName,
  salvageRefs,
  SHARED_ENGINE_ID,
  subjects,
} from '@autellix/protocol';
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { headers, nuid } from '@nats-io/transport-node';
import { contextFromHeaders, hasTrace, writeTraceHeaders } from '@autellix/telemetry';
import type { Context, Tracer } from '@opentelemetry/api';
import { ProxyTracerProvider } from '@opentelemetry/api';
import { CallTraces } from './call-traces.ts';
import { ProgramHistory } from './program-history.ts';
import { AckedPublisher } from '@autellix/acked-publish';
import type { SchedulerServiceConfig } from './config.ts';
import { validateServiceConfig } from './config.ts';
import { EngineRegistry, engineLists } from './engine-registry.ts';
import { IntakeBatches } from './intake-batches.ts';
import { OrderedWrites } from './ordered-writes.ts';
import type { EndReason, LiveCall, Session } from './session-table.ts';
import { newSession } from './session-table.ts';
import type { SharedOffer } from './shared-offers.ts';
import { SharedOffers } from './shared-offers.ts';
import { CLAIM_GRACE_MS, INTAKE_DUPLICATE_WINDOW_MS, UNCLAIMED_SEQ, UnclaimedCalls } from './fast-intake.ts';
import type { EndedCall, PendingClose } from './session-endings.ts';
import { SessionEndings } from './session-endings.ts';
import { checkSubmit } from './submit-checks.ts';
import { bucketRemover, TableStore } from './table-store.ts';
import type { SchedulerCounters, SchedulerObserver } from './actor-counters.ts';
import { newSchedulerCounters } from './actor-counters.ts';
import { ensureStream } from './ensure-stream.ts';
import { orderKeyOf } from './order-key.ts';
import { reconcileEngine } from './engine-reconcile.ts';
import type { StatusSource } from './status-replies.ts';
import { monitorReply, statusReply } from './status-replies.ts';

/** Most calls ended with their session whose late outcome is still recognised. */
const ENDED_CALLS_KEPT = 8192;

const INTAKE_TYPES = ['session.open', 'session.close', 'call.submit', 'call.cancel', 'call.done', 'call.failed'] as const;
const CONSUMER = 'scheduler';
/** JetStream's message-id header: a publish's deduplication id, kept on the stored copy. */
const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Period of writing attained service from progress reports to the table (ms). */
const PROGRESS_WRITE_MS = 1_000;

/**
 * The scheduler actor. Durable input (sessions, calls, cancels, engine outcomes) comes through
 * one JetStream stream and is acknowledged only after the process table holding its effect is
 * written to the KV bucket; a restart reloads the table and resumes the stream, so every
 * accepted call completes and attained service carries over. Engines are found by heartbeat
 * and placed on by the configured balancer; priority changes (demotion on quantum, promotion by
 * anti-starvation) go to the engine holding the call as they happen.
 *
 * Times: the core runs on epoch seconds (`clock()/1000`), so order keys stay comparable across
 * restarts; service and wait are the engines' (modelled) seconds.
 */
export class SchedulerActor {
  readonly core: SchedulerCore;
  readonly engines = new EngineRegistry();
  readonly counters: SchedulerCounters = newSchedulerCounters();
  /** The scheduler's spans (programs and calls); no-ops when tracing is off. */
  readonly traces: CallTraces;
  /** Told of calls and sessions as they are folded in (the service's metrics); none by default. */
  observer: SchedulerObserver | null = null;
  /** Call timelines of open and recently ended programs (for `monitor`). */
  readonly history = new ProgramHistory();
  private readonly sessions = new Map<string, Session>();
  private readonly ended = new Map<string, EndReason>();
  /**
   * Calls that were on an engine when their session ended, so an outcome arriving after the
   * close is still counted (settled as `session_ended` after `missingGraceMs`, or when pushed out
   * past `ENDED_CALLS_KEPT`), and the `session.closed` answers waiting for them.
   */
  private readonly endings = new SessionEndings(ENDED_CALLS_KEPT);
  /** Calls applied from the fast path whose stream copy has not claimed them yet. */
  private readonly unclaimed = new UnclaimedCalls();
  /** `<prefix>.intake.call`, built once: every stream message is compared with it while calls wait for their claim. */
  private readonly callIntakeSubject: string;
  /** Calls waiting for a live engine (keys), in arrival order. */
  private readonly unplaced = new Set<string>();
  /** Calls offered as shared work and not yet taken, with the balancer's engine to fall back on. */
  private readonly sharedOffers = new SharedOffers();
  /**
   * Calls whose attained service or wait changed by progress reports since the last progress
   * write. Progress is written at most every `PROGRESS_WRITE_MS`, not at every report (every
   * 10 ms per engine), so a restart loses at most that much attained service.
   */
  private progressDirty = new Set<string>();
  private progressWrittenAt = 0;
  /** Keys of calls whose results the program has seen before their outcome arrived (see `parentsDone`). */
  private readonly resultSeen = new Set<string>();
  /** Active calls placed on each engine. */
  private readonly onEngine = new Map<string, Set<string>>();
  private store: TableStore | null = null;
  private publisher: AckedPublisher | null = null;
  private messages: ConsumerMessages | null = null;
  private readonly subs: Subscription[] = [];
  private sweeper: ReturnType<typeof setInterval> | null = null;
  private loop: Promise<void> | null = null;
  private persistedSeq = -1;
  /** Every table write goes through this queue (intake batches, sweeps, single sessions). */
  private readonly writes = new OrderedWrites();
  private readonly intake = new IntakeBatches<Session>(
    (m) => this.handleIntake(m),
    (touched) => this.saveSessions(touched),
    this.writes,
    (line) => this.log(line),
  );
  /**
   * True for `missingGraceMs` after a start that found a table or unapplied intake: placements
   * wait, so a call a previous life already placed (and whose record did not reach the table
   * before a crash) is adopted from the engine that reports it instead of being run twice.
   */
  private recovering = false;
  private recoverUntil = 0;
  /**
   * Hot standby: the engines live when this scheduler took over (it heard their heartbeats while
   * standing by). Recovery ends as soon as each has reported since the start and the backlog of
   * `recoveryBacklog` intake messages is applied, instead of after the whole `missingGraceMs`.
   * Null after a cold start: recovery waits out the grace.
   */
  private recoveryEngines: ReadonlySet<string> | null = null;
  private recoveryBacklog = 0;
  private recoveryStartedAt = 0;
  /** Intake messages handled since the start. */
  private intakeHandled = 0;
  private nonce = '';

  /**
   * Names this scheduler instance in its assignments' reply subjects
   * (`<p>.ack.<engineId>.<ackNonce>.<attempt>[.<offer>]`, one subscription for all); empty
   * before `start`.
   */
  get ackNonce(): string {
    return this.nonce;
  }
  /** Wall ms of `start`; engines the table names but that never reported are dead after a grace. */
  private startedAt = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly config: SchedulerServiceConfig,
    private readonly clock: () => number = Date.now,
    private readonly log: (line: string) => void = () => {},
    tracer: Tracer = new ProxyTracerProvider().getTracer('autellix'),
  ) {
    validateServiceConfig(config);
    this.callIntakeSubject = subjects.intake('call', config.prefix);
    this.traces = new CallTraces(tracer);
    this.core = new SchedulerCore(getPolicy(config.policy), config.core, getBalancer(config.balancer), config.balancerOptions);
  }

  private now(): number {
    return this.clock() / 1000;
  }

  /**
   * Creates the stream and bucket when missing, reloads the table, and starts consuming.
   * `liveEngines`: the engines a standby heard while waiting (see `recoveryEngines`); omit after
   * a cold start.
   */
  async start(liveEngines?: ReadonlySet<string>): Promise<void> {
    const prefix = this.config.prefix;
    const jsm = await jetstreamManager(this.nc);
    const stream = intakeStreamName(prefix);
    await ensureStream(jsm, {
      name: stream,
      subjects: [subjects.intakeAll(prefix)],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: INTAKE_DUPLICATE_WINDOW_MS * 1_000_000,
      num_replicas: this.config.replicas,
    });
    // Durable copies of calls' final answers (engines store them; a caller reads one after a
    // reconnect). Limits retention: the last answer per reply subject, for RESULT_RETENTION_MS.
    await ensureStream(jsm, {
      name: resultsStreamName(prefix),
      subjects: [subjects.resultsAll(prefix)],
      retention: RetentionPolicy.Limits,
      max_age: RESULT_RETENTION_MS * 1_000_000,
      max_msgs_per_subject: 1,
      allow_direct: true,
      num_replicas: this.config.replicas,
    });
    // A fresh consumer on every start: with work-queue retention the stream holds exactly the
    // messages never acknowledged, and a new consumer delivers them at once and in order, where
    // the old one would hold back those it had handed to a crashed scheduler until ack_wait.
    // Messages applied but not acknowledged before a crash are recognised on re-application
    // (see `submit`). One scheduler per stream: a second one would take over the consumer.
    await jsm.consumers.delete(stream, CONSUMER).catch(() => false);
    await jsm.consumers.add(stream, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000, max_ack_pending: 4096 });
    const bucket = processTableBucket(prefix);
    // A 2 s API timeout (the default is 5 s): a table operation lost to a dying node is retried soon.
    const kv = await new Kvm(jetstream(this.nc, { timeout: 2_000 })).create(bucket, { history: 1, replicas: this.config.replicas });
    // A short acknowledgement timeout: a write lost to a dying node is retried soon.
    this.publisher = new AckedPublisher(this.nc, 2_000);
    const publisher = this.publisher;
    this.store = new TableStore(kv, (key, data) => publisher.publish(`$KV.${bucket}.${key}`, data), bucketRemover(jsm, bucket));
    const recovered = await this.store.load(this.core);
    const wall = this.clock();
    this.startedAt = wall;
    for (const s of recovered.sessions) {
      this.sessions.set(s.id, s);
      for (const [callId, live] of s.calls) {
        const key = `${s.id}/${callId}`;
        // Until engines report, treat the last placement as standing; the heartbeat check
        // places again whatever the engine does not hold.
        live.missingSince = wall;
        if (live.submitSeq === UNCLAIMED_SEQ) this.unclaimed.add(key, wall);
        if (live.resultSeenAt !== null) {
          live.resultSeenAt = wall;
          this.resultSeen.add(key);
        } else if (live.engine === null) this.unplaced.add(key);
        else this.track(live.engine, key);
      }
    }
    for (const [id, r] of recovered.ended) this.ended.set(id, r);
    if (recovered.sessions.length > 0) this.log(`recovered ${recovered.sessions.length} open sessions from the process table`);
    this.nonce = nuid.next();
    const pending = (await jsm.consumers.info(stream, CONSUMER)).num_pending;
    if (recovered.sessions.length > 0 || pending > 0) {
      this.recovering = true;
      this.recoverUntil = wall + this.config.missingGraceMs;
      this.recoveryEngines = liveEngines ?? null;
      this.recoveryBacklog = pending;
      this.recoveryStartedAt = wall;
      this.log(
        liveEngines === undefined
          ? `recovering: ${pending} intake messages to apply; placements wait ${this.config.missingGraceMs} ms for engines to report`
          : `recovering: ${pending} intake messages to apply; placements wait for ${liveEngines.size} engines to report (at most ${this.config.missingGraceMs} ms)`,
      );
    }
    this.subs.push(
      this.nc.subscribe(subjects.assignRepliesAll(this.nonce, prefix), { callback: (_e, m) => this.safely(m, () => this.onAssignReply(m)) }),
      this.nc.subscribe(subjects.heartbeatAll(prefix), { callback: (_e, m) => this.safely(m, () => this.onHeartbeat(m)) }),
      this.nc.subscribe(subjects.status(prefix), { callback: (_e, m) => this.safely(m, () => this.onStatus(m)) }),
      this.nc.subscribe(subjects.monitor(prefix), { callback: (_e, m) => this.safely(m, () => this.onMonitor(m)) }),
      this.nc.subscribe(subjects.progressAll(prefix), { callback: (_e, m) => this.safely(m, () => this.onProgress(m)) }),
    );
    // The fast path: the plain copy of every call.submit publish (never answered: its reply
    // subject is the publisher's stream acknowledgement).
    if (this.config.fastIntake) {
      this.subs.push(this.nc.subscribe(subjects.intake('call', prefix), { callback: (_e, m) => this.safely(m, () => this.onFastSubmit(m)) }));
    }
    const consumer: Consumer = await jetstream(this.nc).consumers.get(stream, CONSUMER);
    // Short pull expiry and heartbeats: when the stream's leader changes (a cluster node died) the
    // pull is renewed within seconds instead of the default 30 s.
    this.messages = await consumer.consume({ max_messages: 1024, expires: 5_000, idle_heartbeat: 1_000 });
    this.loop = this.intake.run(this.messages);
    this.sweeper = setInterval(() => void this.sweep(), this.config.sweepMs);
  }

  /** Stops consuming and sweeping; unacknowledged input stays in the stream for the next start. */
  async stop(): Promise<void> {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
    await this.messages?.close();
    await this.loop;
    // Held close answers go now, with what is known (a restart forgets the calls they wait for),
    // and the spans of those calls end as their sessions did.
    for (const [id, closing] of this.endings.takeCloses()) this.answerClose(id, closing);
    for (const [key, ended] of this.endings.takeOverdue(Number.POSITIVE_INFINITY, 0)) this.traces.ended(key, 'session_ended', ended.rec ?? undefined, ended.engine);
    await this.persistDirty();
    this.publisher?.close();
  }

  /** Runs a message handler; a throw (a bug) is counted as `internal` and logged, never propagated. */
  private safely(m: Msg, handle: () => void): void {
    try {
      handle();
    } catch (err) {
      this.reject(err, undefined, salvageRefs(m.data));
    }
  }

  private reject(err: unknown, replyTo: string | undefined, refs: { sessionId?: string; callId?: string; type?: string }): void {
    const code = err instanceof ProtocolError ? err.code : ErrorCode.internal;
    this.counters.rejected[code] = (this.counters.rejected[code] ?? 0) + 1;
    this.log(`rejected ${refs.type ?? 'message'} (${code}): ${(err as Error).message}`);
    if (replyTo !== undefined) this.answer(replyTo, errorMessage(err, refs));
  }

  private publish<T extends MessageType>(subject: string, m: Outgoing<T>): void {
    try {
      this.nc.publish(subject, encodeMessage(m));
    } catch (err) {
      this.log(`publish to ${subject} failed: ${(err as Error).message}`);
    }
  }

  /** Decodes and applies one intake message; returns the session whose record changed, or null. */
  private handleIntake(m: JsMsg): Session | null {
    this.intakeHandled += 1;
    // The stream copy of a call the fast path applied, recognised by its message id and bytes:
    // the same message, so it is not decoded and validated a second time.
    if (this.unclaimed.size > 0 && m.subject === this.callIntakeSubject) {
      const msgID = m.headers?.get(MSG_ID_HEADER);
      const key = msgID ? this.unclaimed.claimCopy(msgID, m.data) : null;
      if (key !== null) {
        const claimed = this.claimCopy(key, m.seq);
        if (claimed !== undefined) return claimed;
      }
    }
    let msg: ReturnType<typeof decodeMessage<(typeof INTAKE_TYPES)[number]>>;
    try {
      msg = decodeMessage(m.data, INTAKE_TYPES);
    } catch (err) {
      const refs = salvageRefs(m.data);
      this.reject(err, refs.replyTo, refs);
      return null;
    }
    try {
      this.checkIntakeSubject(m.subject, msg);
      return this.apply(msg, m.seq, m.headers);
    } catch (err) {
      this.reject(err, 'replyTo' in msg ? msg.replyTo : undefined, salvageRefs(m.data));
      return null;
    }
  }

  /**
   * Gives the call `key` applied from the fast path its stream sequence `seq` (what `submit` does
   * for a decoded copy with a `claim` verdict). Null when its session has ended since (claimed
   * quietly); undefined when the call is not waiting for its claim after all: the copy is then
   * decoded and applied as any other.
   */
  private claimCopy(key: string, seq: number): Session | null | undefined {
    const [sessionId, callId] = splitKey(key);
    const s = this.sessions.get(sessionId);
    if (s === undefined) return null;
    const live = s.calls.get(callId);
    if ((live?.submitSeq ?? s.finished.get(callId)) !== UNCLAIMED_SEQ) return undefined;
    if (live !== undefined) live.submitSeq = seq;
    else s.finished.set(callId, seq);
    s.dirtyCalls.add(callId);
    this.counters.copiesClaimed += 1;
    return s;
  }

  /**
   * Throws `wrong_subject` unless `msg` came on its kind's intake subject: sessions on
   * `<p>.intake.session`, calls on `.call`, cancels on `.cancel`, and outcomes on the outcome
   * subject of the engine they name, so a program cannot forge an outcome and an engine cannot
   * report one for another.
   */
  private checkIntakeSubject(subject: string, msg: ReturnType<typeof decodeMessage<(typeof INTAKE_TYPES)[number]>>): void {
    const prefix = this.config.prefix;
    const expected =
      msg.type === 'call.done' || msg.type === 'call.failed'
        ? subjects.outcome(msg.engineId, prefix)
        : subjects.intake(msg.type === 'call.submit' ? 'call' : msg.type === 'call.cancel' ? 'cancel' : 'session', prefix);
    if (subject !== expected) throw new ProtocolError(ErrorCode.wrongSubject, `${msg.type} on ${subject}; it is accepted only on ${expected}`);
  }

  /** Applies a validated message; returns the session whose record must be written, or null. */
  private apply(msg: ReturnType<typeof decodeMessage<(typeof INTAKE_TYPES)[number]>>, seq: number, hdrs?: MsgHdrs): Session | null {
    switch (msg.type) {
      case 'session.open':
        return this.openSession(msg.sessionId, msg.replyTo, msg.programClass, msg.idleTtlMs, contextFromHeaders(hdrs));
      case 'session.close':
        return this.closeSession(msg.sessionId, 'closed', msg.replyTo);
      case 'call.submit':
        return this.submit(msg, seq, contextFromHeaders(hdrs, msg.traceparent));
      case 'call.cancel':
        return this.cancel(msg.sessionId, msg.callId);
      case 'call.done':
        return this.finishCall(msg.sessionId, msg.callId, msg.engineId, msg.service, msg.wait, false, msg.preemptions, msg.completionTokens);
      case 'call.failed':
        return this.finishCall(msg.sessionId, msg.callId, msg.engineId, null, null, true);
    }
  }

  private openSession(id: string, replyTo: string, programClass: string | undefined, ttl: number | undefined, parent: Context): Session | null {
    const existing = this.sessions.get(id);
    if (existing !== undefined) {
      existing.lastActivity = this.clock();
      this.answer<'session.opened'>(replyTo, { type: 'session.opened', sessionId: id, idleTtlMs: existing.idleTtlMs, existing: true });
      return null;
    }
    if (this.ended.has(id)) {
      this.reject(new ProtocolError(ErrorCode.sessionEnded, `session ${id} has ended; open a new session id`), replyTo, { sessionId: id });
      return null;
    }
    const s = newSession(id, ttl ?? this.config.sessionIdleTtlMs, this.clock());
    this.sessions.set(id, s);
    this.core.openProgram(id, this.now(), programClass ?? '*');
    this.traces.sessionOpened(id, programClass, parent);
    this.history.opened(id);
    this.counters.sessionsOpened += 1;
    this.answer<'session.opened'>(replyTo, { type: 'session.opened', sessionId: id, idleTtlMs: s.idleTtlMs, existing: false });
    return s;
  }

  private lookup(sessionId: string, replyTo: string | undefined, callId?: string): Session | null {
    const s = this.sessions.get(sessionId);
    if (s !== undefined) return s;
    const refs = callId === undefined ? { sessionId } : { sessionId, callId };
    const reason = this.ended.get(sessionId);
    const err =
      reason !== undefined
        ? new ProtocolError(ErrorCode.sessionEnded, `session ${sessionId} has ended (${reason})`)
        : new ProtocolError(ErrorCode.unknownSession, `no open session ${sessionId}`);
    this.reject(err, replyTo, refs);
    return null;
  }

  private closeSession(id: string, reason: EndReason, replyTo?: string): Session | null {
    const s = this.lookup(id, replyTo);
    if (s === null) return null;
    const row = this.core.programs.get(id);
    let pendingOutcomes = 0;
    let onEngines = 0;
    for (const [callId, live] of s.calls) {
      this.counters.callsEndedWithSession += 1;
      const endedRec = row?.active.get(callId);
      this.history.finished(id, callId, 'session_ended', this.clock());
      if (live.engine !== null) {
        // Its outcome may still come (the engine finished it before the revoke): the observer
        // and its trace span hear of it then, or of `session_ended` after the grace.
        this.rememberEndedCall(`${id}/${callId}`, {
          engine: live.engine,
          rec: endedRec === undefined ? null : { ...endedRec },
          service: live.service,
          wait: live.wait,
          endedAt: this.clock(),
        });
        onEngines += 1;
        if (endedRec !== undefined) pendingOutcomes += 1;
      } else {
        this.traces.ended(`${id}/${callId}`, 'session_ended', endedRec, null);
        if (endedRec !== undefined) this.observer?.callFinished(endedRec, 'session_ended', 0, this.clock());
      }
      this.revoke(id, callId, live, 'session_ended');
      const err = new ProtocolError(ErrorCode.sessionEnded, `session ${id} ended (${reason}) before call ${callId} finished`);
      this.answer(live.submit.replyTo, errorMessage(err, { sessionId: id, callId }));
    }
    s.calls.clear();
    const callsCompleted = row?.callsCompleted ?? 0;
    const service = row?.completedService ?? 0;
    this.core.closeProgram(id);
    this.traces.sessionEnded(id, reason, callsCompleted, service);
    this.history.closed(id, this.clock());
    this.observer?.sessionEnded(id, this.clock(), pendingOutcomes);
    this.sessions.delete(id);
    this.ended.set(id, reason);
    this.counters.sessionsEnded += 1;
    if (replyTo !== undefined) {
      const closing: PendingClose = { replyTo, reason, callsCompleted, service, pending: onEngines };
      if (onEngines === 0) this.answerClose(id, closing);
      else this.endings.holdClose(id, closing);
    }
    s.dirty = true;
    return s;
  }

  /** Sends `session.closed` with the counts `closing` holds. */
  private answerClose(sessionId: string, closing: PendingClose): void {
    const { replyTo, reason, callsCompleted, service } = closing;
    this.answer<'session.closed'>(replyTo, { type: 'session.closed', sessionId, callsCompleted, service, reason });
  }

  /**
   * The fast path: applies a `call.submit` from the plain copy of its publish when it is clean
   * (decodes, its session is open, `checkSubmit` accepts it) and no recovery is under way. Anything
   * else is left to the stream's copy, which answers errors; nothing is answered from here.
   */
  private onFastSubmit(m: Msg): void {
    if (this.recovering) return;
    let msg: CallSubmit;
    try {
      const decoded = decodeMessage(m.data, INTAKE_TYPES);
      if (decoded.type !== 'call.submit') return;
      msg = decoded;
    } catch {
      return;
    }
    const s = this.sessions.get(msg.sessionId);
    if (s === undefined || checkSubmit(msg, UNCLAIMED_SEQ, s, this.config).kind !== 'accept') return;
    if (this.accept(s, msg, UNCLAIMED_SEQ, contextFromHeaders(m.headers, msg.traceparent))) {
      const msgID = m.headers?.get(MSG_ID_HEADER);
      this.unclaimed.add(`${msg.sessionId}/${msg.callId}`, this.clock(), msgID ? { msgID, data: m.data } : undefined);
      this.counters.fastApplied += 1;
    }
  }

  private submit(msg: CallSubmit, seq: number, parent: Context): Session | null {
    const refs = { sessionId: msg.sessionId, callId: msg.callId, type: msg.type };
    // The stream's copy of a call the fast path applied: it claims the call even when the call
    // (or its session) has ended since.
    const fastApplied = this.unclaimed.claim(`${msg.sessionId}/${msg.callId}`);
    if (fastApplied && !this.sessions.has(msg.sessionId)) return null;
    const s = this.lookup(msg.sessionId, msg.replyTo, msg.callId);
    if (s === null) return null;
    const verdict = checkSubmit(msg, seq, s, this.config);
    if (verdict.kind === 'reapplied') {
      this.counters.redeliveries += 1;
      return null;
    }
    if (verdict.kind === 'claim') {
      const live = s.calls.get(msg.callId);
      if (live !== undefined) live.submitSeq = seq;
      else s.finished.set(msg.callId, seq);
      s.dirtyCalls.add(msg.callId);
      return s;
    }
    if (verdict.kind === 'reject') {
      this.reject(verdict.error, msg.replyTo, refs);
      return null;
    }
    return this.accept(s, msg, seq, parent) ? s : null;
  }

  /**
   * Enters an accepted submission into the core and the session, and places it; `seq` is its
   * stream sequence (`UNCLAIMED_SEQ` from the fast path). False when the core refuses it (the
   * caller was answered).
   */
  private accept(s: Session, msg: CallSubmit, seq: number, parent: Context): boolean {
    const refs = { sessionId: msg.sessionId, callId: msg.callId, type: msg.type };
    let rec: CallRecord;
    try {
      rec = this.core.submit(
        {
          programId: msg.sessionId,
          callId: msg.callId,
          threadId: msg.threadId,
          parents: msg.parents,
          promptTokens: msg.promptTokens,
          maxOutputTokens: msg.maxTokens,
        },
        this.now(),
      );
    } catch (err) {
      if (err instanceof CallStateError) {
        this.reject(new ProtocolError(ErrorCode.duplicateCall, err.message), msg.replyTo, refs);
        return false;
      }
      throw err;
    }
    const live: LiveCall = {
      submit: pickCallBody(msg),
      submitSeq: seq,
      attempt: 0,
      engine: null,
      acked: false,
      assignedAt: 0,
      missingSince: null,
      resultSeenAt: null,
      service: 0,
      wait: 0,
    };
    this.traces.accepted(`${msg.sessionId}/${msg.callId}`, rec, parent);
    this.observer?.callAccepted(msg.sessionId, this.clock());
    this.history.accepted(msg.sessionId, msg.callId, msg.threadId, this.clock());
    this.parentsDone(s, msg.parents);
    s.calls.set(msg.callId, live);
    s.lastActivity = this.clock();
    s.dirtyCalls.add(msg.callId);
    this.counters.callsAccepted += 1;
    this.place(s, msg.callId, live);
    return true;
  }

  /**
   * A call names parents whose outcome has not arrived: the program has their results, so they
   * have finished on their engines. They stop counting toward those engines' load at once (the
   * balancer then sees what the simulator sees); their outcome still folds their service in
   * when it arrives, and `sweep` finishes them without it if it never does.
   */
  private parentsDone(s: Session, parents: readonly string[]): void {
    for (const p of parents) {
      const live = s.calls.get(p);
      if (live === undefined || live.resultSeenAt !== null || live.engine === null || live.engine === SHARED_ENGINE_ID) continue;
      const key = `${s.id}/${p}`;
      live.resultSeenAt = this.clock();
      this.onEngine.get(live.engine)?.delete(key);
      this.resultSeen.add(key);
    }
  }

  /** Calls whose results were seen but whose outcome is overdue (engine gone, or no longer holding them) are finished. */
  private finishOverdue(wall: number): void {
    for (const key of [...this.resultSeen]) {
      const [sessionId, callId] = splitKey(key);
      const live = this.sessions.get(sessionId)?.calls.get(callId);
      if (live === undefined || live.resultSeenAt === null || live.engine === null) {
        this.resultSeen.delete(key);
        continue;
      }
      const e = this.engines.get(live.engine);
      const gone = e === undefined || !engineLists(e, key);
      if (gone && wall - live.resultSeenAt > this.config.missingGraceMs) {
        this.log(`${key}: result seen but no outcome from ${live.engine}; finished with the service last reported`);
        const s = this.finishCall(sessionId, callId, live.engine, live.service, live.wait, false);
        if (s !== null) void this.persist(s);
      }
    }
  }

  private track(engine: string, key: string): void {
    let set = this.onEngine.get(engine);
    if (set === undefined) {
      set = new Set();
      this.onEngine.set(engine, set);
    }
    set.add(key);
  }

  private untrack(engine: string | null, key: string): void {
    if (engine !== null) this.onEngine.get(engine)?.delete(key);
    this.unplaced.delete(key);
    this.resultSeen.delete(key);
    this.sharedOffers.drop(key);
  }

  /** Places a call with the balancer and sends the assignment; parks it when no engine is alive. */
  private place(s: Session, callId: string, live: LiveCall): void {
    const key = `${s.id}/${callId}`;
    const rec = this.core.programs.get(s.id)?.active.get(callId);
    if (rec === undefined) return;
    this.untrack(live.engine, key);
    if (this.recovering) {
      live.engine = null;
      this.unplaced.add(key);
      return;
    }
    const placement = this.core.place(
      rec,
      this.engines.loads((id) => this.onEngine.get(id)?.size ?? 0),
    );
    if (placement === null) {
      live.engine = null;
      this.unplaced.add(key);
      return;
    }
    const shared = this.config.sharedShortCalls && !placement.pin && rec.promptTokens <= this.config.balancerOptions.longCallTokens;
    if (!shared) {
      this.send(s, callId, live, rec, placement.engine);
      return;
    }
    // A shared offer nobody takes falls back to the balancer's choice.
    const offer = this.sharedOffers.open(key, placement.engine, this.clock());
    this.send(s, callId, live, rec, SHARED_ENGINE_ID, offer);
  }

  /**
   * Sends the assignment to `engine` (or offers it as shared work) and records the placement. An
   * assignment that cannot be encoded would fail the same way on every engine and every retry,
   * so its call fails at once with `internal` (logged and counted) instead of being placed again
   * for ever; a send that fails because the connection is down is left to heartbeat
   * reconciliation.
   */
  private send(s: Session, callId: string, live: LiveCall, rec: CallRecord, engine: string, offer?: string): void {
    const key = `${s.id}/${callId}`;
    // Object.assign, not an object spread: a spread that adds properties builds a new hidden
    // class per call on Node 20 (`encodeMessage` in packages/protocol says more).
    const assign: Outgoing<'call.assign'> = Object.assign({}, live.submit, {
      type: 'call.assign' as const,
      engineId: engine,
      attempt: live.attempt,
      level: rec.level,
      key: orderKeyOf(this.core, rec),
      seq: rec.seq,
      // A stamp for measuring the two hops of the control plane (one machine's clock), not the actor's clock.
      sentAtMs: performance.timeOrigin + performance.now(),
    });
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage<'call.assign'>(assign);
    } catch (err) {
      this.log(`assignment of ${key} cannot be encoded, so the call fails: ${(err as Error).message}`);
      this.failCall(s.id, callId, new ProtocolError(ErrorCode.internal, `the scheduler could not encode call ${callId}'s assignment: ${(err as Error).message}`));
      return;
    }
    live.engine = engine;
    live.acked = false;
    live.assignedAt = this.clock();
    live.missingSince = null;
    live.service = 0;
    live.wait = 0;
    if (engine !== SHARED_ENGINE_ID) this.track(engine, key);
    s.dirtyCalls.add(callId);
    const subject = engine === SHARED_ENGINE_ID ? subjects.sharedWork(this.config.prefix) : subjects.engineAssign(engine, this.config.prefix);
    try {
      const reply = subjects.assignReply(engine, this.nonce, live.attempt, offer, this.config.prefix);
      this.traces.assigned(key, engine, live.attempt, rec.level);
      this.history.assigned(s.id, callId, engine, live.assignedAt);
      const ctx = this.traces.contextOf(key);
      let hdrs: MsgHdrs | undefined;
      if (hasTrace(ctx)) {
        hdrs = headers();
        writeTraceHeaders(ctx, hdrs);
      }
      // Due intake acknowledgements share this publish's socket write.
      this.intake.releaseAcks();
      this.nc.publish(subject, bytes, hdrs === undefined ? { reply } : { reply, headers: hdrs });
    } catch (err) {
      // The connection is down; heartbeat reconciliation places the call again.
      this.log(`assignment of ${key} to ${engine} not sent: ${(err as Error).message}`);
    }
  }


  /**
   * An engine's answer to an assignment, on `<p>.ack.<engineId>.<nonce>.<attempt>[.<offer>]`
   * with `engineId` the answering engine (an offer of shared work is answered under the taker's
   * id); the server's no-responders status comes on the subject as sent (`_shared` for an
   * offer). An `assign.ack` whose `engineId` is not the subject's is refused (`wrong_subject`):
   * with per-engine permissions an engine cannot answer for another. Answers for an older
   * placement are ignored. There is no timer per assignment: an engine that dies is found by the
   * liveness sweep, and a live engine that never got the call by heartbeat reconciliation.
   */
  private onAssignReply(m: Msg): void {
    const [engine = '', , attemptText = '', offer] = m.subject.slice(`${this.config.prefix}.ack.`.length).split('.');
    const attempt = Number(attemptText);
    const shared = offer !== undefined;
    if (m.headers?.code === 503) {
      if (shared) {
        this.sharedUntaken(offer);
      } else if (this.engines.forget(engine)) {
        // Nobody takes this engine's assignments (it stopped, or its heartbeat was not its own):
        // it is dead from now on, and what it held is placed again.
        this.engineGone(engine, 'takes no assignments (no responders)');
      }
      return;
    }
    const reply = decodeMessage(m.data, ['assign.ack', 'error']);
    if (reply.type === 'assign.ack' && reply.engineId !== engine) {
      throw new ProtocolError(ErrorCode.wrongSubject, `assign.ack of engine ${reply.engineId} on engine ${engine}'s reply subject`, 'engineId');
    }
    if (reply.sessionId === undefined || reply.callId === undefined) {
      this.log(`engine ${engine} answered an assignment without naming the call: ${reply.type === 'error' ? reply.message : ''}`);
      return;
    }
    const { sessionId, callId } = reply;
    const s = this.sessions.get(sessionId);
    const live = s?.calls.get(callId);
    if (s === undefined || live === undefined || live.attempt !== attempt || live.engine !== (shared ? SHARED_ENGINE_ID : engine)) {
      // A shared offer taken after the call was cancelled, ended or placed elsewhere: the taker
      // must drop it.
      if (shared && reply.type === 'assign.ack' && live?.engine !== reply.engineId) {
        this.publish<'call.revoke'>(subjects.engineControl(reply.engineId, this.config.prefix), {
          type: 'call.revoke',
          sessionId,
          callId,
          reason: live === undefined ? 'cancelled' : 'reassigned',
        });
      }
      return;
    }
    if (reply.type === 'assign.ack') {
      live.acked = true;
      if (shared) {
        // Taken from the shared queue: the call now belongs to the engine that took it.
        const key = `${sessionId}/${callId}`;
        this.sharedOffers.drop(key);
        this.counters.sharedTaken += 1;
        live.engine = reply.engineId;
        const rec = this.core.programs.get(sessionId)?.active.get(callId);
        if (rec !== undefined) rec.engine = reply.engineId;
        this.track(reply.engineId, key);
        s.dirtyCalls.add(callId);
      }
      return;
    }
    this.log(`engine ${engine} refused ${sessionId}/${callId}: ${reply.code}: ${reply.message}`);
    this.failCall(sessionId, callId, new ProtocolError(reply.code === ErrorCode.noEngine ? ErrorCode.noEngine : ErrorCode.engineFailed, reply.message));
  }

  /** A shared offer found no engine with room (no responders): it goes to the balancer's choice. */
  private sharedUntaken(offer: string): void {
    const o = this.sharedOffers.takeByOffer(offer);
    if (o !== undefined) this.fallBack(o);
  }

  /** Sends an untaken offer's call to the balancer's choice (attempt + 1), or places it again when that engine is gone. */
  private fallBack(o: SharedOffer): void {
    const [sessionId, callId] = splitKey(o.key);
    const s = this.sessions.get(sessionId);
    const live = s?.calls.get(callId);
    const rec = this.core.programs.get(sessionId)?.active.get(callId);
    if (s === undefined || live === undefined || rec === undefined || live.engine !== SHARED_ENGINE_ID) return;
    this.counters.sharedFallbacks += 1;
    live.attempt += 1;
    if (this.engines.has(o.fallback)) this.send(s, callId, live, rec, o.fallback);
    else this.place(s, callId, live);
  }

  /** An engine is dead (`why`): every call placed on it is placed again. */
  private engineGone(id: string, why: string): void {
    const keys = [...(this.onEngine.get(id) ?? [])];
    this.log(`engine ${id} ${why}; placing its ${keys.length} calls again`);
    this.onEngine.delete(id);
    for (const key of keys) {
      const [sessionId, callId] = splitKey(key);
      const live = this.sessions.get(sessionId)?.calls.get(callId);
      if (live !== undefined) this.replace(sessionId, callId, live);
    }
  }

  /** Places a call again (new attempt) after its engine died or lost it. */
  private replace(sessionId: string, callId: string, live: LiveCall): void {
    const s = this.sessions.get(sessionId);
    if (s === undefined || s.calls.get(callId) !== live) return;
    const rec = this.core.programs.get(sessionId)?.active.get(callId);
    if (rec !== undefined) this.core.setPhase(rec, 'queued');
    if (live.engine !== null && this.engines.has(live.engine)) {
      // The engine is alive but did not confirm: make sure it drops any copy before retrying.
      this.revoke(sessionId, callId, live, 'reassigned');
    }
    live.attempt += 1;
    this.counters.reassignments += 1;
    this.traces.reassigned(`${sessionId}/${callId}`, 'engine lost the call');
    this.place(s, callId, live);
  }

  private revoke(sessionId: string, callId: string, live: LiveCall, reason: 'cancelled' | 'session_ended' | 'reassigned'): void {
    const key = `${sessionId}/${callId}`;
    // An offer not yet taken has no engine to tell; its taker is told when its ack arrives.
    if (live.engine !== null && live.engine !== SHARED_ENGINE_ID) {
      this.publish<'call.revoke'>(subjects.engineControl(live.engine, this.config.prefix), { type: 'call.revoke', sessionId, callId, reason });
    }
    if (reason !== 'reassigned') this.untrack(live.engine, key);
  }

  /**
   * Sends the answer to a request (`session.opened`, `session.closed`, or an `error` that ends
   * it) to its reply subject, and stores a durable copy in the results stream for a caller that
   * was disconnected meanwhile (protocol: `subjects.result`).
   */
  private answer<T extends MessageType>(replyTo: string, m: Outgoing<T>): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(m);
      this.nc.publish(replyTo, bytes);
    } catch (err) {
      this.log(`answer to ${replyTo} failed: ${(err as Error).message}`);
      return;
    }
    this.publisher?.publish(subjects.result(replyTo, this.config.prefix), bytes).catch((err: unknown) => {
      this.log(`answer to ${replyTo} not stored: ${(err as Error).message}`);
    });
  }

  /** A call that can never run: tell its caller, fold it out of the table. */
  private failCall(sessionId: string, callId: string, err: ProtocolError): void {
    const s = this.sessions.get(sessionId);
    const live = s?.calls.get(callId);
    if (s === undefined || live === undefined) return;
    this.answer(live.submit.replyTo, errorMessage(err, { sessionId, callId }));
    const failedRec = this.core.programs.get(sessionId)?.active.get(callId);
    this.traces.ended(`${sessionId}/${callId}`, 'failed', failedRec, live.engine, err.message);
    this.history.finished(sessionId, callId, 'failed', this.clock());
    if (failedRec !== undefined) this.observer?.callFinished(failedRec, 'failed', 0, this.clock());
    this.dropCall(s, callId, live);
    this.counters.callsFailed += 1;
    void this.persist(s);
  }

  private dropCall(s: Session, callId: string, live: LiveCall): void {
    const rec = this.core.programs.get(s.id)?.active.get(callId);
    if (rec !== undefined) this.core.complete(rec, this.now());
    this.untrack(live.engine, `${s.id}/${callId}`);
    s.calls.delete(callId);
    s.finished.set(callId, live.submitSeq);
    s.lastActivity = this.clock();
    s.dirty = true;
    s.dirtyCalls.add(callId);
  }

  /**
   * A call applied from the fast path whose stream copy never came: the publish was not stored,
   * and its caller was told so by JetStream. Cancelled (revoked from its engine), and its caller
   * answered with `internal`, in case it still listens.
   */
  private dropUnclaimed(key: string): void {
    const [sessionId, callId] = splitKey(key);
    const live = this.sessions.get(sessionId)?.calls.get(callId);
    if (live === undefined) return;
    this.counters.fastUnclaimed += 1;
    this.log(`${key}: applied from the fast path, but its publish was never stored in the intake stream; cancelled`);
    const err = new ProtocolError(ErrorCode.internal, `call ${callId} was never stored in the intake stream; it was cancelled`);
    this.answer(live.submit.replyTo, errorMessage(err, { sessionId, callId }));
    const s = this.cancel(sessionId, callId);
    if (s !== null) void this.persist(s);
  }

  private cancel(sessionId: string, callId: string): Session | null {
    const s = this.sessions.get(sessionId);
    const live = s?.calls.get(callId);
    if (s === undefined || live === undefined) return null;
    this.revoke(sessionId, callId, live, 'cancelled');
    const cancelled = this.core.programs.get(sessionId)?.active.get(callId);
    this.traces.ended(`${sessionId}/${callId}`, 'cancelled', cancelled, live.engine);
    this.history.finished(sessionId, callId, 'cancelled', this.clock());
    if (cancelled !== undefined) this.observer?.callFinished(cancelled, 'cancelled', 0, this.clock());
    this.dropCall(s, callId, live);
    this.counters.callsCancelled += 1;
    return s;
  }

  private finishCall(
    sessionId: string,
    callId: string,
    engine: string,
    service: number | null,
    wait: number | null,
    failed: boolean,
    preemptions = 0,
    completionTokens = 0,
  ): Session | null {
    const s = this.sessions.get(sessionId);
    const live = s?.calls.get(callId);
    // The outcome of a call revoked when its session ended, from the engine it was on: counted.
    const endedOn = s === undefined ? this.endings.takeOutcome(`${sessionId}/${callId}`, engine, SHARED_ENGINE_ID) : null;
    if (endedOn !== null) {
      this.counters.lateOutcomes += 1;
      if (failed) this.counters.callsFailed += 1;
      else this.counters.callsCompleted += 1;
      const extra = service !== null ? Math.max(0, service - endedOn.service) : 0;
      if (endedOn.rec !== null) {
        const rec = { ...endedOn.rec };
        rec.service += extra;
        if (wait !== null) rec.wait += Math.max(0, wait - endedOn.wait);
        if (preemptions > rec.preemptions) rec.preemptions = preemptions;
        this.observer?.callFinished(rec, failed ? 'failed' : 'done', completionTokens, this.clock());
        this.traces.ended(`${sessionId}/${callId}`, failed ? 'failed' : 'done', rec, engine);
      } else this.traces.ended(`${sessionId}/${callId}`, failed ? 'failed' : 'done', undefined, engine);
      const closing = this.endings.settleClose(sessionId, (endedOn.rec?.service ?? 0) + extra);
      if (closing !== null) this.answerClose(sessionId, closing);
      return null;
    }
    // Other late or duplicate outcomes (a reassigned call finishing twice) are ignored. A call not
    // placed yet (parked while recovering) takes the outcome of its previous life's placement.
    if (s === undefined || live === undefined || (live.engine !== engine && live.engine !== null && live.engine !== SHARED_ENGINE_ID)) return null;
    const rec = this.core.programs.get(sessionId)?.active.get(callId);
    if (rec !== undefined && service !== null && wait !== null) this.account(rec, live, service, wait);
    // Progress reports sample the running flag; a preemption shorter than their period is known
    // only from the engine's count, so the record keeps at least that many.
    if (rec !== undefined && preemptions > rec.preemptions) rec.preemptions = preemptions;
    this.traces.ended(`${sessionId}/${callId}`, failed ? 'failed' : 'done', rec, engine);
    this.history.finished(sessionId, callId, failed ? 'failed' : 'done', this.clock());
    if (rec !== undefined) this.observer?.callFinished(rec, failed ? 'failed' : 'done', completionTokens, this.clock());
    this.dropCall(s, callId, live);
    if (failed) this.counters.callsFailed += 1;
    else this.counters.callsCompleted += 1;
    return s;
  }

  private rememberEndedCall(key: string, ended: EndedCall): void {
    const pushedOut = this.endings.remember(key, ended);
    if (pushedOut !== null) this.settleEndedCall(...pushedOut);
  }

  /** No late outcome will be counted for `key` (forgotten by `endings`): the observer and its trace span hear `session_ended`. */
  private settleEndedCall(key: string, ended: EndedCall): void {
    this.traces.ended(key, 'session_ended', ended.rec ?? undefined, ended.engine);
    if (ended.rec !== null) this.observer?.callFinished(ended.rec, 'session_ended', 0, this.clock());
    const sessionId = splitKey(key)[0];
    const closing = this.endings.settleClose(sessionId, null);
    if (closing !== null) this.answerClose(sessionId, closing);
  }

  /**
   * Folds an engine's totals into the record; sends any priority change to the engine.
   * `midPrefill`: the engine reported the call's prefill incomplete (no demotion is taken then).
   */
  private account(rec: CallRecord, live: LiveCall, service: number, wait: number, midPrefill = false): void {
    const ds = service - live.service;
    const dw = wait - live.wait;
    let changed = false;
    const key = `${rec.programId}/${rec.callId}`;
    if (ds > 0) {
      live.service = service;
      const change = this.core.addService(rec, ds, midPrefill);
      if (change !== null) {
        changed = true;
        this.traces.priority(key, change);
      }
    }
    if (dw > 0) {
      live.wait = wait;
      const change = this.core.addWait(rec, dw);
      if (change !== null) {
        changed = true;
        this.traces.priority(key, change);
      }
    }
    if (changed && live.engine !== null) {
      this.counters.prioritySignals += 1;
      this.publish<'call.priority'>(subjects.engineControl(live.engine, this.config.prefix), {
        type: 'call.priority',
        sessionId: rec.programId,
        callId: rec.callId,
        level: rec.level,
        key: orderKeyOf(this.core, rec),
        seq: rec.seq,
      });
    }
  }

  private onProgress(m: Msg): void {
    let p: ReturnType<typeof decodeMessage<'call.progress'>>;
    try {
      p = decodeMessage(m.data, ['call.progress']);
      this.checkEngineSubject(m.subject, p.engineId);
    } catch (err) {
      this.reject(err, undefined, salvageRefs(m.data));
      return;
    }
    for (const item of p.items) {
      const s = this.sessions.get(item.sessionId);
      const live = s?.calls.get(item.callId);
      if (s === undefined || live === undefined || live.engine !== p.engineId) continue;
      const rec = this.core.programs.get(item.sessionId)?.active.get(item.callId);
      if (rec === undefined) continue;
      const wasRunning = rec.phase === 'running';
      this.core.setPhase(rec, item.running ? 'running' : wasRunning ? 'preempted' : rec.phase);
      this.traces.phase(`${item.sessionId}/${item.callId}`, item.running, wasRunning, rec);
      this.history.phase(item.sessionId, item.callId, item.running, p.engineId, this.clock());
      this.account(rec, live, item.service, item.wait, item.prefilling === true);
      this.progressDirty.add(`${item.sessionId}/${item.callId}`);
    }
  }

  private onHeartbeat(m: Msg): void {
    let hb: ReturnType<typeof decodeMessage<'engine.heartbeat'>>;
    try {
      hb = decodeMessage(m.data, ['engine.heartbeat']);
      this.checkEngineSubject(m.subject, hb.engineId);
    } catch (err) {
      this.reject(err, undefined, salvageRefs(m.data));
      return;
    }
    const fresh = this.engines.heartbeat(hb, this.clock());
    if (fresh) this.log(`engine ${hb.engineId} (${hb.backend}) is live`);
    this.reconcile(hb.engineId);
    if (this.unplaced.size > 0) this.placeParked();
  }

  /**
   * Throws `wrong_subject` unless `subject` is engine `engineId`'s own (`engineOfSubject`): with
   * per-engine permissions, an engine cannot speak for another.
   */
  private checkEngineSubject(subject: string, engineId: string): void {
    const of = engineOfSubject(subject, this.config.prefix);
    if (of !== engineId) {
      throw new ProtocolError(ErrorCode.wrongSubject, `a message of engine ${engineId} on ${subject}${of === null ? '' : `, engine ${of}'s subject`}`, 'engineId');
    }
  }

  /** Compares what an engine holds with what it should (`reconcileEngine`): lost calls are placed again, strays revoked. */
  private reconcile(engineId: string): void {
    const e = this.engines.get(engineId);
    if (e === undefined) return;
    const wall = this.clock();
    const liveOf = (key: string): LiveCall | undefined => {
      const [sessionId, callId] = splitKey(key);
      return this.sessions.get(sessionId)?.calls.get(callId);
    };
    const actions = reconcileEngine({
      engineId,
      placed: this.onEngine.get(engineId) ?? [],
      reported: e.reported,
      finished: e.finished,
      callOf: liveOf,
      finishedHere: (key) => {
        const [sessionId, callId] = splitKey(key);
        return this.sessions.get(sessionId)?.finished.has(callId) === true || this.ended.has(sessionId);
      },
      wall,
      graceMs: this.config.missingGraceMs,
      recovering: this.recovering,
    });
    for (const key of actions.held) {
      const live = liveOf(key) as LiveCall;
      live.missingSince = null;
      live.acked = true;
    }
    for (const key of actions.missingFromNow) (liveOf(key) as LiveCall).missingSince = wall;
    for (const key of actions.replace) {
      const [sessionId, callId] = splitKey(key);
      this.log(`engine ${engineId} does not hold ${key}; placing it again`);
      this.replace(sessionId, callId, liveOf(key) as LiveCall);
    }
    for (const { key, reason } of actions.revoke) {
      const [sessionId, callId] = splitKey(key);
      this.publish<'call.revoke'>(subjects.engineControl(engineId, this.config.prefix), { type: 'call.revoke', sessionId, callId, reason });
    }
  }

  /** Hot standby: every engine live at the takeover has reported since, and the backlog is applied. */
  private caughtUp(): boolean {
    const live = this.recoveryEngines;
    if (live === null || this.intakeHandled < this.recoveryBacklog) return false;
    for (const id of live) {
      const e = this.engines.get(id);
      if (e === undefined || e.lastSeen < this.recoveryStartedAt) return false;
    }
    return true;
  }

  /** Adopts parked calls that a live engine reports holding; places the rest. */
  private endRecovery(): void {
    this.recovering = false;
    const wall = this.clock();
    let adopted = 0;
    for (const key of [...this.unplaced]) {
      const [sessionId, callId] = splitKey(key);
      const live = this.sessions.get(sessionId)?.calls.get(callId);
      if (live === undefined) continue;
      const holder = this.engines.ids().find((id) => {
        const e = this.engines.get(id);
        return e !== undefined && engineLists(e, key);
      });
      if (holder === undefined) continue;
      this.unplaced.delete(key);
      live.engine = holder;
      live.acked = true;
      live.assignedAt = wall;
      live.missingSince = null;
      this.track(holder, key);
      adopted += 1;
    }
    this.log(`recovery done: ${adopted} calls adopted from the engines holding them, ${this.unplaced.size} to place`);
    this.placeParked();
  }

  private placeParked(): void {
    if (this.recovering) return;
    for (const key of [...this.unplaced]) {
      const [sessionId, callId] = splitKey(key);
      const s = this.sessions.get(sessionId);
      const live = s?.calls.get(callId);
      if (s === undefined || live === undefined) {
        this.unplaced.delete(key);
        continue;
      }
      this.place(s, callId, live);
      if (this.engines.size === 0) break;
    }
  }

  private sweeping = false;
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const wall = this.clock();
      if (this.recovering && (wall >= this.recoverUntil || this.caughtUp())) this.endRecovery();
      // An offer whose taker never answered (it died, or the offer was lost) is placed again.
      for (const o of this.sharedOffers.takeOverdue(wall, this.config.assignTimeoutMs)) this.fallBack(o);
      this.finishOverdue(wall);
      for (const key of this.unclaimed.takeOverdue(wall, CLAIM_GRACE_MS)) this.dropUnclaimed(key);
      for (const [key, ended] of this.endings.takeOverdue(wall, this.config.missingGraceMs)) this.settleEndedCall(key, ended);
      if (wall - this.progressWrittenAt >= PROGRESS_WRITE_MS) {
        this.progressWrittenAt = wall;
        for (const key of this.progressDirty) {
          const [sessionId, callId] = splitKey(key);
          this.sessions.get(sessionId)?.dirtyCalls.add(callId);
        }
        this.progressDirty = new Set();
      }
      const dead = this.engines.sweepDead(wall);
      // Engines the recovered table names that never reported since the restart are dead too.
      if (wall - this.startedAt > this.config.missingGraceMs) {
        for (const id of this.onEngine.keys()) {
          if (!this.engines.has(id) && !dead.includes(id) && (this.onEngine.get(id)?.size ?? 0) > 0) dead.push(id);
        }
      }
      for (const id of dead) this.engineGone(id, 'is silent');
      for (const s of [...this.sessions.values()]) {
        if (s.calls.size === 0 && wall - s.lastActivity > s.idleTtlMs) {
          this.closeSession(s.id, 'idle');
          await this.persist(s);
        }
      }
      await this.persistDirty();
    } catch (err) {
      this.log(`sweep failed: ${(err as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  private persistDirty(): Promise<void> {
    return this.writes.run(async () => {
      await this.saveSessions([...this.sessions.values()].filter((s) => s.dirty || s.dirtyCalls.size > 0));
    });
  }

  /** Queues one session's write behind the writes already queued. */
  private persist(s: Session): Promise<void> {
    return this.writes.run(() => this.saveSessions([s]));
  }

  /** Writes the sessions' changes (and the FIFO counter when it moved) as one table entry. */
  private async saveSessions(list: readonly Session[]): Promise<void> {
    if (this.store === null) return;
    const items = list.map((s) => ({ s, ended: this.sessions.get(s.id) === s ? null : (this.ended.get(s.id) ?? 'closed') }));
    const seq = this.core.seqFloor;
    const moved = seq !== this.persistedSeq;
    await this.store.save(this.core, items, moved ? seq : null);
    if (moved) this.persistedSeq = seq;
  }

  /** The actor's state as the `status` and `monitor` answers read it. */
  private statusSource(): StatusSource {
    let activeCalls = 0;
    for (const s of this.sessions.values()) activeCalls += s.calls.size;
    return {
      policy: this.config.policy,
      balancer: this.config.balancer,
      core: this.core,
      engines: this.engines,
      counters: this.counters,
      history: this.history,
      sessions: this.sessions.size,
      activeCalls,
      parkedCalls: this.unplaced.size,
      recovering: this.recovering,
      callsOn: (id) => this.onEngine.get(id)?.size ?? 0,
    };
  }

  /** Answers a `status.request` with the scheduler's view (`statusReply`). */
  private onStatus(m: Msg): void {
    try {
      decodeMessage(m.data, ['status.request']);
    } catch (err) {
      this.reject(err, m.reply || undefined, {});
      return;
    }
    if (!m.reply) return;
    m.respond(encodeMessage<'status'>(statusReply(this.statusSource(), this.clock())));
  }

  /** Answers `monitor.request` with the live view (`monitorReply`). */
  private onMonitor(m: Msg): void {
    let req: ReturnType<typeof decodeMessage<'monitor.request'>>;
    try {
      req = decodeMessage(m.data, ['monitor.request']);
    } catch (err) {
      this.reject(err, m.reply || undefined, {});
      return;
    }
    if (!m.reply) return;
    m.respond(encodeMessage<'monitor'>(monitorReply(this.statusSource(), req, this.clock(), this.now())));
  }

  /** Active calls not yet placed on a live engine. */
  get parkedCalls(): number {
    return this.unplaced.size;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

