import { ErrorCode, ProtocolError } from './errors.ts';

/**
 * NATS subjects of the protocol, built from one prefix (default `autellix`) so several
 * deployments can share a server. Every subject a service uses comes from these functions.
 */
export const DEFAULT_PREFIX = 'autellix';

/** JetStream stream that holds the scheduler's durable input (sessions, calls, cancels, outcomes). */
export function intakeStreamName(prefix: string = DEFAULT_PREFIX): string {
  return `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}_INTAKE`;
}

/**
 * JetStream stream holding a durable copy of each call's final answer (`call.result`, or the
 * `error` that ends it), under `subjects.result(replyTo)`: a program that was disconnected when
 * the answer went to its reply subject reads it from here (`directGetLastSubject`).
 */
export function resultsStreamName(prefix: string = DEFAULT_PREFIX): string {
  return `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}_RESULTS`;
}

/** How long the results stream keeps an answer (ms). */
export const RESULT_RETENTION_MS = 10 * 60_000;

/**
 * The subject of a direct read of the last message stored under `subject` in `stream` (NATS
 * 2.9 direct get, the subject in the request subject so permissions can scope it). The reply is
 * the stored message, or a 404 status with no data when there is none.
 */
export function directGetLastSubject(stream: string, subject: string): string {
  return `$JS.API.DIRECT.GET.${stream}.${subject}`;
}

/** JetStream KV bucket that holds the process table. */
export function processTableBucket(prefix: string = DEFAULT_PREFIX): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_programs`;
}

/**
 * The kinds of durable scheduler input; each is one subject under `<prefix>.intake.` (outcomes
 * one per engine: `<prefix>.intake.outcome.<engineId>`, see `subjects.outcome`). The scheduler
 * accepts each message type only on its kind's subject.
 */
export const IntakeKind = {
  session: 'session',
  call: 'call',
  cancel: 'cancel',
  outcome: 'outcome',
} as const;
export type IntakeKind = (typeof IntakeKind)[keyof typeof IntakeKind];
/** The intake kinds programs publish (outcomes are engines'). */
export type ProgramIntakeKind = Exclude<IntakeKind, 'outcome'>;

export const subjects = {
  /** All intake subjects (the stream's filter). */
  intakeAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.>`,
  /** Where programs publish `session.open`/`session.close` (session), `call.submit` (call), `call.cancel` (cancel). */
  intake: (kind: ProgramIntakeKind, prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.${kind}`,
  /** Where engine `engineId` publishes its `call.done`/`call.failed` (JetStream, in the intake stream). */
  outcome: (engineId: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.outcome.${token(engineId)}`,
  /** Every engine's outcome subject (an observer's core subscription; the stream captures them too). */
  outcomeAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.outcome.*`,
  /** Engine `engineId` publishes `engine.heartbeat` here (core NATS). */
  heartbeat: (engineId: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.${token(engineId)}.heartbeat`,
  /** Every engine's heartbeats (the scheduler's and monitors' subscription). */
  heartbeatAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.*.heartbeat`,
  /** Engine `engineId` publishes `call.progress` here (core NATS; totals, so a lost report is harmless). */
  progress: (engineId: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.${token(engineId)}.progress`,
  /** Every engine's progress reports. */
  progressAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.*.progress`,
  /**
   * Reply subject of a `call.assign`: `<prefix>.ack.<engineId>.<nonce>.<attempt>[.<offer>]`,
   * `nonce` naming the scheduler instance. The engine answers on it with the token after
   * `ack.` set to its own id (`ackSubjectFor`): for an offer of shared work that token is
   * `SHARED_ENGINE_ID`, and whichever engine takes it answers under its own. With per-engine
   * permissions on `<prefix>.ack.<id>.>`, an engine can answer only as itself.
   */
  assignReply: (engineId: string, nonce: string, attempt: number, offer?: string, prefix: string = DEFAULT_PREFIX): string =>
    `${prefix}.ack.${token(engineId)}.${token(nonce)}.${attempt}${offer === undefined ? '' : `.${token(offer)}`}`,
  /**
   * Where the durable copy of the final answer sent to `replyTo` is stored (results stream):
   * `<prefix>.result.<replyTo>`. One per reply subject (the stream keeps the last), so a
   * client that wants durable answers uses a reply subject per call, as the TypeScript client does.
   */
  result: (replyTo: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.result.${replyTo}`,
  /** All durable answers (the results stream's subjects). */
  resultsAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.result.>`,
  /** Every engine's answers to one scheduler instance's assignments. */
  assignRepliesAll: (nonce: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.ack.*.${token(nonce)}.>`,
  /** The scheduler requests `call.assign` here; the engine replies `assign.ack` or `error`. */
  engineAssign: (engineId: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.${token(engineId)}.assign`,
  /** The scheduler publishes `call.priority` and `call.revoke` here. */
  engineControl: (engineId: string, prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.${token(engineId)}.control`,
  /**
   * Shared short-call work: engines with room subscribe in queue group `SHARED_QUEUE_GROUP`; the
   * scheduler requests a `call.assign` with `engineId` = `SHARED_ENGINE_ID` here, and whichever
   * engine takes it answers `assign.ack` with its own id. No responders means no engine has room.
   */
  sharedWork: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.work.shared`,
  /** Scheduler status: request `status.request`, reply `status` (core request/reply). */
  status: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.sched.status`,
  /** Scheduler live view: request `monitor.request`, reply `monitor` (core request/reply). */
  monitor: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.sched.monitor`,
} as const;

/**
 * The subject engine `engineId` answers an assignment on, given the assignment's reply subject:
 * the reply with its engine token (the one after `<prefix>.ack.`) replaced by `engineId`. Throws
 * `ProtocolError(bad_field)` when `reply` is not an assignment reply subject of this prefix.
 */
export function ackSubjectFor(reply: string, engineId: string, prefix: string = DEFAULT_PREFIX): string {
  const head = `${prefix}.ack.`;
  const rest = reply.startsWith(head) ? reply.slice(head.length) : '';
  const dot = rest.indexOf('.');
  if (dot <= 0) throw new ProtocolError(ErrorCode.badField, `"${reply}" is not an assignment reply subject (${head}<engineId>.<nonce>.<attempt>)`);
  return `${head}${token(engineId)}${rest.slice(dot)}`;
}

/**
 * The engine id in an engine-published subject (`<prefix>.engine.<id>.heartbeat|progress`,
 * `<prefix>.intake.outcome.<id>`, `<prefix>.ack.<id>.…`), or null when the subject is not one.
 */
export function engineOfSubject(subject: string, prefix: string = DEFAULT_PREFIX): string | null {
  const parts = subject.slice(prefix.length + 1).split('.');
  if (!subject.startsWith(`${prefix}.`)) return null;
  if (parts[0] === 'engine' && parts.length === 3 && (parts[2] === 'heartbeat' || parts[2] === 'progress')) return parts[1] ?? null;
  if (parts[0] === 'intake' && parts[1] === 'outcome' && parts.length === 3) return parts[2] ?? null;
  if (parts[0] === 'ack' && parts.length >= 4) return parts[1] ?? null;
  return null;
}

/** The `engineId` of an assignment offered on the shared work subject; no engine may be called this. */
export const SHARED_ENGINE_ID = '_shared';
/** Queue group of the engines subscribed to shared work. */
export const SHARED_QUEUE_GROUP = 'engines';

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `s` can be one token of a subject (engine ids must be). */
export function isSubjectToken(s: string): boolean {
  return TOKEN.test(s);
}

function token(s: string): string {
  if (!TOKEN.test(s)) throw new ProtocolError(ErrorCode.badField, `"${s}" is not a valid subject token ([A-Za-z0-9_-]{1,64})`);
  return s;
}
