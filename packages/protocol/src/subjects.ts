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

/** JetStream KV bucket that holds the process table. */
export function processTableBucket(prefix: string = DEFAULT_PREFIX): string {
  return `${prefix.replace(/[^A-Za-z0-9_-]/g, '_')}_programs`;
}

/** The kinds of durable scheduler input; each is one subject under `<prefix>.intake.`. */
export const IntakeKind = {
  session: 'session',
  call: 'call',
  cancel: 'cancel',
  outcome: 'outcome',
} as const;
export type IntakeKind = (typeof IntakeKind)[keyof typeof IntakeKind];

export const subjects = {
  /** All intake subjects (the stream's filter). */
  intakeAll: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.>`,
  /** Where programs publish `session.open`/`session.close` (session), `call.submit` (call), `call.cancel` (cancel); engines publish `call.done`/`call.failed` (outcome). */
  intake: (kind: IntakeKind, prefix: string = DEFAULT_PREFIX): string => `${prefix}.intake.${kind}`,
  /** Engines publish `engine.heartbeat` here (core NATS). */
  heartbeat: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.engine.heartbeat`,
  /** Engines publish `call.progress` here (core NATS; totals, so a lost report is harmless). */
  progress: (prefix: string = DEFAULT_PREFIX): string => `${prefix}.sched.progress`,
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
