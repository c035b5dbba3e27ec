import { decodeRaw, encode } from './codec.ts';
import type { ErrorCode } from './errors.ts';
import { ErrorCode as Codes, ProtocolError } from './errors.ts';
import type { Fields } from './schema.ts';
import { arr, bool, checkFields, code, engineId as engineIdSpec, id, int, isMap, num, obj, oneOf, optional, str } from './schema.ts';

/** Version of every message type defined here. A receiver rejects other versions with `unknown_type`. */
export const PROTOCOL_VERSION = 1;

/** A chat message, as in the OpenAI API. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | 'tool';
  readonly content: string;
}

/** A shared prompt prefix (a system prompt many programs reuse): its id and length in tokens. */
export interface SharedPrefix {
  readonly id: string;
  readonly tokens: number;
}

/**
 * One call of a call's first-parent chain: its id and the token position where its context
 * ends (its prompt plus its output), as its descendants' prompts count it.
 */
export interface AncestorRef {
  readonly callId: string;
  readonly end: number;
}

/** Most entries of a call's `ancestry`. */
export const MAX_ANCESTRY = 256;

/** The call fields a program submits and an engine receives. */
export interface CallBody {
  readonly sessionId: string;
  readonly callId: string;
  readonly threadId: string;
  /** Calls of the same session this one follows (its context extends the first one's). */
  readonly parents: readonly string[];
  /** Prompt length in tokens, including the context it extends. */
  readonly promptTokens: number;
  /** Most tokens to generate (>= 1). The `sim` backend generates exactly this many. */
  readonly maxTokens: number;
  readonly prompt?: string;
  readonly messages?: readonly ChatMessage[];
  readonly prefix?: SharedPrefix;
  /**
   * The call's first-parent chain, oldest first, ending with its first parent (at most
   * `MAX_ANCESTRY`; a longer chain is cut at its old end). Optional: a simulated engine uses it
   * to know which context a call extends when it did not run the call's parents itself (a real
   * engine matches prefixes by content and ignores it).
   */
  readonly ancestry?: readonly AncestorRef[];
  /** Subject for `token.chunk`, `call.result` and `error`. */
  readonly replyTo: string;
  /** True to receive `token.chunk` messages before the result. */
  readonly stream: boolean;
  /** W3C traceparent of the caller's span, when traced. */
  readonly traceparent?: string;
}

/** A call's place in the engine's order: (level, key, seq) ascending; `seq` is unique per scheduler. */
export interface Priority {
  readonly level: number;
  readonly key: number;
  readonly seq: number;
}

export interface SessionOpen {
  readonly type: 'session.open';
  readonly v: 1;
  readonly sessionId: string;
  readonly replyTo: string;
  /** Kind of agent (never its size); the `gittins` policy learns per class. */
  readonly programClass?: string;
  /** The session ends after this long without a call (ms); the scheduler's default when absent. */
  readonly idleTtlMs?: number;
}
export interface SessionOpened {
  readonly type: 'session.opened';
  readonly v: 1;
  readonly sessionId: string;
  readonly idleTtlMs: number;
  /** True when the session was already open (an idempotent retry). */
  readonly existing: boolean;
}
export interface SessionClose {
  readonly type: 'session.close';
  readonly v: 1;
  readonly sessionId: string;
  readonly replyTo?: string;
}
export interface SessionClosed {
  readonly type: 'session.closed';
  readonly v: 1;
  readonly sessionId: string;
  readonly callsCompleted: number;
  /** Seconds of engine service the session attained. */
  readonly service: number;
  readonly reason: 'closed' | 'idle';
}
export interface CallSubmit extends CallBody {
  readonly type: 'call.submit';
  readonly v: 1;
}
export interface CallCancel {
  readonly type: 'call.cancel';
  readonly v: 1;
  readonly sessionId: string;
  readonly callId: string;
}
export interface CallAssign extends CallBody, Priority {
  readonly type: 'call.assign';
  readonly v: 1;
  readonly engineId: string;
  /** 0 for the first assignment; +1 each time the call is reassigned after an engine died. */
  readonly attempt: number;
  /**
   * Wall-clock time (epoch ms, fractional) the scheduler published this assignment, when it says:
   * with the client's submit time and the engine's receipt it splits the control plane's delay
   * into its two hops (one machine's clock only).
   */
  readonly sentAtMs?: number;
}
export interface AssignAck {
  readonly type: 'assign.ack';
  readonly v: 1;
  readonly engineId: string;
  readonly sessionId: string;
  readonly callId: string;
}
export interface CallPriority extends Priority {
  readonly type: 'call.priority';
  readonly v: 1;
  readonly sessionId: string;
  readonly callId: string;
}
export interface CallRevoke {
  readonly type: 'call.revoke';
  readonly v: 1;
  readonly sessionId: string;
  readonly callId: string;
  readonly reason: 'cancelled' | 'session_ended' | 'reassigned';
}
export interface TokenChunk {
  readonly type: 'token.chunk';
  readonly v: 1;
  readonly sessionId: string;
  readonly callId: string;
  /** 0, 1, 2, ... per call: a receiver can detect gaps. */
  readonly index: number;
  readonly text: string;
  readonly tokens: number;
}
export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens served from the engine's prefix cache. */
  readonly cachedTokens: number;
}
export interface Timings {
  /** From the engine receiving the call to its first scheduled step (ms). */
  readonly queuedMs: number;
  /** From receipt to the first generated token (ms). */
  readonly firstTokenMs: number;
  /** From receipt to completion (ms). */
  readonly totalMs: number;
  /** Wall-clock time (epoch ms, fractional) the engine received the assignment, when it reports it. */
  readonly receivedAtMs?: number;
  /** The assignment's `sentAtMs`, passed on by the engine when the scheduler gave it. */
  readonly assignSentAtMs?: number;
}
export interface CallResult {
  readonly type: 'call.result';
  readonly v: 1;
  readonly sessionId: string;
  readonly callId: string;
  readonly engineId: string;
  readonly text: string;
  readonly usage: Usage;
  readonly timings: Timings;
  readonly preemptions: number;
  /** Seconds of engine service the call attained (as in `call.done`), when the engine reports it. */
  readonly service?: number;
  /** Seconds the call waited (queued or preempted) on the engine (as in `call.done`), when the engine reports it. */
  readonly wait?: number;
}
export interface CallDone {
  readonly type: 'call.done';
  readonly v: 1;
  readonly engineId: string;
  readonly sessionId: string;
  readonly callId: string;
  /** Seconds of modelled (or measured) engine service the call attained. */
  readonly service: number;
  /** Seconds the call waited (queued or preempted) on the engine. */
  readonly wait: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly preemptions: number;
}
export interface CallFailed {
  readonly type: 'call.failed';
  readonly v: 1;
  readonly engineId: string;
  readonly sessionId: string;
  readonly callId: string;
  readonly code: ErrorCode;
  readonly message: string;
}
export interface ProgressItem {
  readonly sessionId: string;
  readonly callId: string;
  /** Totals so far (not deltas), so a lost report loses nothing. */
  readonly service: number;
  readonly wait: number;
  readonly running: boolean;
  /**
   * True when the service so far ended with the call's prefill incomplete (its prompt, or after
   * a recompute its prompt and generated tokens, not all computed; no token since it last
   * started). The scheduler then takes no quantum demotion for it. Absent means false.
   */
  readonly prefilling?: boolean;
}
export interface CallProgress {
  readonly type: 'call.progress';
  readonly v: 1;
  readonly engineId: string;
  readonly items: readonly ProgressItem[];
}
export interface EngineHeartbeat {
  readonly type: 'engine.heartbeat';
  readonly v: 1;
  readonly engineId: string;
  readonly backend: string;
  readonly running: number;
  readonly queued: number;
  /** Fraction of KV memory in use, 0..1. */
  readonly kvUsed: number;
  readonly maxBatch: number;
  /** The engine counts as dead after this long without a heartbeat (ms). */
  readonly deadAfterMs: number;
  /**
   * Keys (`sessionId/callId`) of every call the engine holds, and of every call whose outcome it
   * has not yet stored. An engine that sends no `finished` lists here too the calls whose
   * outcome it stored in the last 30 s.
   */
  readonly calls: readonly string[];
  /**
   * Keys of calls whose outcome the engine stored recently: those of the last 30 s at least once
   * a second, those of the last 2 s in the heartbeats between. The scheduler remembers each for
   * 30 s and does not take such a call for lost while its outcome may still be on its way to it
   * (it is catching up on its intake). Absent: every such call is in `calls`.
   */
  readonly finished?: readonly string[];
  /**
   * True when the engine keeps a prefix cache across calls, false when it does not; absent when
   * it cannot tell (a remote server). The scheduler's `gittins` reads it under the `auto` fallback.
   */
  readonly prefixCache?: boolean;
}
export interface StatusRequest {
  readonly type: 'status.request';
  readonly v: 1;
}
export interface EngineStatus {
  readonly engineId: string;
  /** Calls the scheduler has placed on the engine and not seen finish. */
  readonly calls: number;
  readonly running: number;
  readonly kvUsed: number;
  /** Milliseconds since its last heartbeat. */
  readonly silentMs: number;
}
export interface SchedulerStatus {
  readonly type: 'status';
  readonly v: 1;
  readonly policy: string;
  readonly balancer: string;
  readonly sessions: number;
  readonly activeCalls: number;
  /** Active calls waiting for a live engine. */
  readonly parkedCalls: number;
  /** True while a restarted scheduler waits for engines to report (placements held). */
  readonly recovering: boolean;
  readonly engines: readonly EngineStatus[];
  /** The scheduler's counters by name (accepted, completed, rejected by code, ...). */
  readonly counters: Readonly<Record<string, number>>;
}
/** Ask the scheduler for a live view (`monitor`); with `programId`, that program's call timeline too. */
export interface MonitorRequest {
  readonly type: 'monitor.request';
  readonly v: 1;
  readonly programId?: string;
  /** Most programs listed (default 200); the busiest first. */
  readonly maxPrograms?: number;
  /** List (and count) only programs whose id starts with this (a tenant's `<tenant>:`). */
  readonly programPrefix?: string;
}
export interface MonitorEngine {
  readonly engineId: string;
  readonly running: number;
  readonly queued: number;
  readonly kvUsed: number;
  readonly maxBatch: number;
}
/** Active calls at one priority level, by phase. */
export interface MonitorLevel {
  readonly level: number;
  readonly queued: number;
  readonly running: number;
  readonly preempted: number;
}
export interface MonitorProgram {
  readonly programId: string;
  /** Lifecycle state (`idle`, `waiting`, `running`, `preempted`). */
  readonly state: string;
  readonly activeCalls: number;
  readonly callsCompleted: number;
  /** Attained service (completed calls plus active ones so far), engine seconds. */
  readonly service: number;
  /** Waiting (completed plus active), engine seconds. */
  readonly wait: number;
  /** Lowest level among its active calls; absent when it has none. */
  readonly level?: number;
  /** Wall ms since the session opened. */
  readonly ageMs: number;
}
/** A stretch of a call's life: waiting (queued or preempted; on an engine or not yet placed) or running on an engine. */
export interface MonitorSegment {
  readonly phase: 'waiting' | 'running';
  readonly engineId?: string;
  /** Wall ms (epoch). */
  readonly fromMs: number;
  /** Absent while it lasts. */
  readonly toMs?: number;
}
export interface MonitorCall {
  readonly callId: string;
  readonly threadId: string;
  /** `done`, `failed`, `cancelled`, `session_ended`; absent while active. */
  readonly outcome?: string;
  readonly segments: readonly MonitorSegment[];
}
export interface MonitorTimeline {
  readonly programId: string;
  /** False once the session ended (the scheduler keeps the last 64 ended programs' timelines). */
  readonly open: boolean;
  readonly calls: readonly MonitorCall[];
}
export interface SchedulerMonitor {
  readonly type: 'monitor';
  readonly v: 1;
  /** The scheduler's wall clock (epoch ms). */
  readonly atMs: number;
  readonly policy: string;
  readonly engines: readonly MonitorEngine[];
  readonly levels: readonly MonitorLevel[];
  readonly programs: readonly MonitorProgram[];
  /** Open programs in all (the list may be cut at `maxPrograms`). */
  readonly programCount: number;
  /** Present when asked for a program the scheduler knows (open or recently ended). */
  readonly timeline?: MonitorTimeline;
}
export interface ErrorMessage {
  readonly type: 'error';
  readonly v: 1;
  readonly code: ErrorCode;
  readonly message: string;
  readonly field?: string;
  readonly sessionId?: string;
  readonly callId?: string;
}

export type Message =
  | SessionOpen
  | SessionOpened
  | SessionClose
  | SessionClosed
  | CallSubmit
  | CallCancel
  | CallAssign
  | AssignAck
  | CallPriority
  | CallRevoke
  | TokenChunk
  | CallResult
  | CallDone
  | CallFailed
  | CallProgress
  | EngineHeartbeat
  | StatusRequest
  | SchedulerStatus
  | MonitorRequest
  | SchedulerMonitor
  | ErrorMessage;
export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
/** A message as built by a sender: the version is filled in by `encodeMessage`. */
export type Outgoing<T extends MessageType> = T extends MessageType ? Omit<MessageOf<T>, 'v'> : never;

const callBody: Fields = {
  sessionId: id,
  callId: id,
  threadId: id,
  parents: arr(id, 64),
  promptTokens: int(1),
  // Range is checked by the scheduler against its limits (bad_max_tokens), not here.
  maxTokens: int(Number.MIN_SAFE_INTEGER),
  prompt: optional(str()),
  messages: optional(arr(obj({ role: oneOf(['system', 'user', 'assistant', 'tool']), content: str() }), 1024)),
  prefix: optional(obj({ id, tokens: int(1) })),
  ancestry: optional(arr(obj({ callId: id, end: int(1) }), MAX_ANCESTRY)),
  replyTo: str(256),
  stream: bool,
  traceparent: optional(str(64)),
};
const priority: Fields = { level: int(0), key: num(Number.NEGATIVE_INFINITY), seq: int(0) };
const callRef: Fields = { sessionId: id, callId: id };

/** The field schema of every message type, version 1. */
export const SCHEMAS: Readonly<Record<MessageType, Fields>> = {
  'session.open': { sessionId: id, replyTo: str(256), programClass: optional(str(64)), idleTtlMs: optional(int(1)) },
  'session.opened': { sessionId: id, idleTtlMs: int(1), existing: bool },
  'session.close': { sessionId: id, replyTo: optional(str(256)) },
  'session.closed': { sessionId: id, callsCompleted: int(0), service: num(0), reason: oneOf(['closed', 'idle']) },
  'call.submit': callBody,
  'call.cancel': callRef,
  'call.assign': { ...callBody, ...priority, engineId: engineIdSpec, attempt: int(0), sentAtMs: optional(num(0)) },
  'assign.ack': { ...callRef, engineId: engineIdSpec },
  'call.priority': { ...callRef, ...priority },
  'call.revoke': { ...callRef, reason: oneOf(['cancelled', 'session_ended', 'reassigned']) },
  'token.chunk': { ...callRef, index: int(0), text: str(), tokens: int(1) },
  'call.result': {
    ...callRef,
    engineId: engineIdSpec,
    text: str(1 << 24),
    usage: obj({ promptTokens: int(0), completionTokens: int(0), cachedTokens: int(0) }),
    timings: obj({ queuedMs: num(0), firstTokenMs: num(0), totalMs: num(0), receivedAtMs: optional(num(0)), assignSentAtMs: optional(num(0)) }),
    preemptions: int(0),
    service: optional(num(0)),
    wait: optional(num(0)),
  },
  'call.done': {
    ...callRef,
    engineId: engineIdSpec,
    service: num(0),
    wait: num(0),
    completionTokens: int(0),
    cachedTokens: int(0),
    preemptions: int(0),
  },
  'call.failed': { ...callRef, engineId: engineIdSpec, code, message: str(4096) },
  'call.progress': {
    engineId: engineIdSpec,
    items: arr(obj({ ...callRef, service: num(0), wait: num(0), running: bool, prefilling: optional(bool) }), 100_000),
  },
  'engine.heartbeat': {
    engineId: engineIdSpec,
    backend: str(64),
    running: int(0),
    queued: int(0),
    kvUsed: num(0),
    maxBatch: int(1),
    deadAfterMs: int(1),
    calls: arr(str(257), 100_000),
    finished: optional(arr(str(257), 100_000)),
    prefixCache: optional(bool),
  },
  'status.request': {},
  status: {
    policy: str(64),
    balancer: str(64),
    sessions: int(0),
    activeCalls: int(0),
    parkedCalls: int(0),
    recovering: bool,
    engines: arr(obj({ engineId: engineIdSpec, calls: int(0), running: int(0), kvUsed: num(0), silentMs: num(0) }), 10_000),
    counters: obj({}),
  },
  'monitor.request': { programId: optional(id), maxPrograms: optional(int(1)), programPrefix: optional(str(129)) },
  monitor: {
    atMs: num(0),
    policy: str(64),
    engines: arr(obj({ engineId: engineIdSpec, running: int(0), queued: int(0), kvUsed: num(0), maxBatch: int(0) }), 10_000),
    levels: arr(obj({ level: int(0), queued: int(0), running: int(0), preempted: int(0) }), 1024),
    programs: arr(
      obj({
        programId: id,
        state: str(32),
        activeCalls: int(0),
        callsCompleted: int(0),
        service: num(0),
        wait: num(0),
        level: optional(int(0)),
        ageMs: num(0),
      }),
      100_000,
    ),
    programCount: int(0),
    timeline: optional(
      obj({
        programId: id,
        open: bool,
        calls: arr(
          obj({
            callId: id,
            threadId: id,
            outcome: optional(str(32)),
            segments: arr(obj({ phase: oneOf(['waiting', 'running']), engineId: optional(engineIdSpec), fromMs: num(0), toMs: optional(num(0)) }), 4096),
          }),
          100_000,
        ),
      }),
    ),
  },
  error: {
    code,
    message: str(4096),
    field: optional(str(256)),
    sessionId: optional(id),
    callId: optional(id),
  },
};

const TYPES: ReadonlySet<string> = new Set(Object.keys(SCHEMAS));

const VERSION_FIELD = { v: PROTOCOL_VERSION } as const;

/**
 * A copy of `message` with `v` added last: what goes on the wire. Messages of one shape (the
 * same fields in the same order) share one hidden class. Built with Object.assign, not
 * `{ ...message, v }`: Node 20's V8 makes a new hidden class (map and descriptors, about 0.3 KB
 * for each property the source lacks) for every object spread that adds a property, so each
 * message sent would leave maps behind for the major GC (docs/benchmarks.md, "Control-plane
 * overhead per call"); `test/hidden-classes.test.ts` holds it to that.
 */
export function versioned<T extends MessageType>(message: Outgoing<T>): Outgoing<T> & { readonly v: number } {
  return Object.assign({}, message, VERSION_FIELD);
}

/** Encodes a message, adding `v`. Throws `ProtocolError(internal)` on undefined or unsafe integers. */
export function encodeMessage<T extends MessageType>(message: Outgoing<T>): Uint8Array {
  return encode(versioned(message));
}

/**
 * Decodes and validates one message. `accept` lists the types this receiver handles; anything
 * else (or another version) is `unknown_type`. Throws `ProtocolError` with `bad_msgpack`,
 * `unknown_type` or `bad_field`; on success the value has every declared field of its type.
 */
export function decodeMessage<T extends MessageType>(bytes: Uint8Array, accept: readonly T[]): MessageOf<T> {
  const raw = decodeRaw(bytes);
  if (!isMap(raw)) throw new ProtocolError(Codes.badMsgpack, 'payload must be a MessagePack map');
  const type = raw.type;
  if (typeof type !== 'string' || !TYPES.has(type) || !(accept as readonly string[]).includes(type)) {
    throw new ProtocolError(
      Codes.unknownType,
      `message type ${JSON.stringify(type ?? null)} is not one of ${accept.join(', ')}`,
      'type',
    );
  }
  if (raw.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(Codes.unknownType, `${type} version ${JSON.stringify(raw.v ?? null)} is not supported (want ${PROTOCOL_VERSION})`, 'v');
  }
  checkFields(SCHEMAS[type as MessageType], raw);
  return raw as unknown as MessageOf<T>;
}

/**
 * Best-effort reading of routing fields from a message that failed validation, so the error
 * can still reach its sender. Never throws; absent or malformed fields come back undefined.
 */
export function salvageRefs(bytes: Uint8Array): { replyTo?: string; sessionId?: string; callId?: string; type?: string } {
  try {
    const raw = decodeRaw(bytes);
    if (!isMap(raw)) return {};
    const pick = (k: string): string | undefined => (typeof raw[k] === 'string' ? (raw[k] as string) : undefined);
    const out: { replyTo?: string; sessionId?: string; callId?: string; type?: string } = {};
    const replyTo = pick('replyTo');
    if (replyTo !== undefined && replyTo.length > 0 && replyTo.length <= 256) out.replyTo = replyTo;
    const sessionId = pick('sessionId');
    if (sessionId !== undefined) out.sessionId = sessionId;
    const callId = pick('callId');
    if (callId !== undefined) out.callId = callId;
    const type = pick('type');
    if (type !== undefined) out.type = type;
    return out;
  } catch {
    return {};
  }
}

/** Builds an `error` message from a `ProtocolError` (or any error, as `internal`), with refs when known. */
export function errorMessage(err: unknown, refs: { sessionId?: string; callId?: string } = {}): Outgoing<'error'> {
  const pe = err instanceof ProtocolError ? err : null;
  const out: { -readonly [K in keyof Outgoing<'error'>]: Outgoing<'error'>[K] } = {
    type: 'error',
    code: pe ? pe.code : Codes.internal,
    message: err instanceof Error ? err.message : String(err),
  };
  if (pe?.field) out.field = pe.field;
  if (refs.sessionId !== undefined && /^[A-Za-z0-9_.:-]{1,128}$/.test(refs.sessionId)) out.sessionId = refs.sessionId;
  if (refs.callId !== undefined && /^[A-Za-z0-9_.:-]{1,128}$/.test(refs.callId)) out.callId = refs.callId;
  return out;
}

/**
 * The call fields of a validated message, and nothing else: a receiver that forwards or stores
 * a call uses this, so unknown extra fields a sender added (allowed, and ignored) never travel on.
 */
export function pickCallBody(m: CallBody): CallBody {
  const out: { -readonly [K in keyof CallBody]: CallBody[K] } = {
    sessionId: m.sessionId,
    callId: m.callId,
    threadId: m.threadId,
    parents: [...m.parents],
    promptTokens: m.promptTokens,
    maxTokens: m.maxTokens,
    replyTo: m.replyTo,
    stream: m.stream,
  };
  if (m.prompt !== undefined) out.prompt = m.prompt;
  if (m.messages !== undefined) out.messages = m.messages.map((x) => ({ role: x.role, content: x.content }));
  if (m.prefix !== undefined) out.prefix = { id: m.prefix.id, tokens: m.prefix.tokens };
  if (m.ancestry !== undefined) out.ancestry = m.ancestry.map((a) => ({ callId: a.callId, end: a.end }));
  if (m.traceparent !== undefined) out.traceparent = m.traceparent;
  return out;
}

/** The key a call is known by everywhere: `sessionId/callId` (the core's `callKey`). */
export function callKeyOf(m: { readonly sessionId: string; readonly callId: string }): string {
  return `${m.sessionId}/${m.callId}`;
}
