/**
 * Stable, machine-readable error codes carried by `error` messages. Clients switch on these;
 * the text of `message` is for people and may change.
 */
export const ErrorCode = {
  /** The bytes are not a MessagePack map. */
  badMsgpack: 'bad_msgpack',
  /** `type` is missing or names no message this receiver knows, or `v` is not a supported version. */
  unknownType: 'unknown_type',
  /** A field is missing, of the wrong type or out of range (the message names the field). */
  badField: 'bad_field',
  /** The session was never opened (or its row expired). */
  unknownSession: 'unknown_session',
  /** The session was closed, or expired after its idle TTL. */
  sessionEnded: 'session_ended',
  /** A call with this id is already active or completed in the session. */
  duplicateCall: 'duplicate_call',
  /** The prompt is over the scheduler's configured limit. */
  promptTooLong: 'prompt_too_long',
  /** `maxTokens` is zero, negative or over the configured limit. */
  badMaxTokens: 'bad_max_tokens',
  /** The call names a parent call the session never submitted. */
  unknownParent: 'unknown_parent',
  /** No live engine can take the call (none registered, or the call can never fit). */
  noEngine: 'no_engine',
  /** The engine could not run the call (backend failure); the message says why. */
  engineFailed: 'engine_failed',
  /** The call was cancelled by its caller. */
  cancelled: 'cancelled',
  /** The receiver is not the one this message was meant for (e.g. an assignment for another engine). */
  wrongTarget: 'wrong_target',
  /**
   * The message came on a subject that does not carry it: its type belongs on another subject
   * (a `call.done` on `<p>.intake.call`), or the engine id in the subject is not the message's.
   */
  wrongSubject: 'wrong_subject',
  /** Anything else: a bug; the receiver logged it and kept running. */
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** True when `s` is one of the protocol's error codes. */
export function isErrorCode(s: unknown): s is ErrorCode {
  return typeof s === 'string' && CODES.has(s);
}

/** An error that maps onto the wire: every failure a receiver reports is one of these. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  /** The offending field's path (`prefix.tokens`), when one field is at fault. */
  readonly field: string | null;
  constructor(code: ErrorCode, message: string, field: string | null = null) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.field = field;
  }
}
