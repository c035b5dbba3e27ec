import type { ErrorMessage } from '@autellix/protocol';
import { ErrorCode } from '@autellix/protocol';

/**
 * Codes of failures the client detects itself; they never travel on the wire.
 * - `timeout`: no answer within the caller's `timeoutMs`.
 * - `client_closed`: the client (or its NATS connection) closed while the request was pending.
 * - `publish_failed`: JetStream did not store the request (no stream, server away, ...).
 * - `duplicate_session`: JetStream dropped a `session.open` as a duplicate (see `DuplicateSessionError`).
 */
export const ClientErrorCode = {
  timeout: 'timeout',
  clientClosed: 'client_closed',
  publishFailed: 'publish_failed',
  duplicateSession: 'duplicate_session',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Every code an `AutellixError` can carry: a wire `ErrorCode` or a client-side `ClientErrorCode`. */
export type AutellixErrorCode = ErrorCode | ClientErrorCode;

/** Where a failure happened, when known. */
export interface ErrorRefs {
  readonly sessionId?: string;
  readonly callId?: string;
  /** The offending field's path, when one field is at fault. */
  readonly field?: string;
  readonly cause?: unknown;
}

/**
 * Base class of every error the client rejects with. Switch on `code` (stable) or use
 * `instanceof` on the subclasses; `message` is for people and may change.
 */
export class AutellixError extends Error {
  readonly code: AutellixErrorCode;
  readonly sessionId: string | null;
  readonly callId: string | null;
  readonly field: string | null;
  constructor(code: AutellixErrorCode, message: string, refs: ErrorRefs = {}) {
    super(message, refs.cause === undefined ? undefined : { cause: refs.cause });
    this.name = new.target.name;
    this.code = code;
    this.sessionId = refs.sessionId ?? null;
    this.callId = refs.callId ?? null;
    this.field = refs.field ?? null;
  }
}

/** `unknown_session`: the session was never opened (or its row expired). */
export class UnknownSessionError extends AutellixError {}
/** `session_ended`: the session was closed or expired after its idle TTL. */
export class SessionEndedError extends AutellixError {}
/**
 * `duplicate_call`: a call with this id was already submitted in the session — reported by the
 * scheduler, or by the client when JetStream's PubAck flags the `call.submit` as a duplicate.
 */
export class DuplicateCallError extends AutellixError {}
/** `prompt_too_long`: the prompt is over the scheduler's configured limit. */
export class PromptTooLongError extends AutellixError {}
/**
 * The request itself is malformed: `bad_field`, `bad_max_tokens`, `unknown_parent`,
 * `unknown_type` or `bad_msgpack`.
 */
export class InvalidRequestError extends AutellixError {}
/**
 * The client refused the request before sending anything (e.g. no prompt, an invalid id, a
 * non-integer `maxTokens`). A subclass of `InvalidRequestError`, so one `instanceof` check
 * covers both client-side and scheduler-side rejections.
 */
export class ValidationError extends InvalidRequestError {}
/** `no_engine`: no live engine can take the call. */
export class NoEngineError extends AutellixError {}
/** `engine_failed`: the engine could not run the call. */
export class EngineFailedError extends AutellixError {}
/** `cancelled`: the call was cancelled (by its signal, `cancel()`, or the scheduler). */
export class CancelledError extends AutellixError {}
/** `timeout`: no answer within `timeoutMs`. A timed-out call is also cancelled at the scheduler. */
export class TimeoutError extends AutellixError {}
/** `client_closed`: the client or its connection closed while the request was pending. */
export class ClientClosedError extends AutellixError {}
/** `publish_failed`: JetStream did not store the request; `cause` holds the NATS error. */
export class PublishError extends AutellixError {}
/**
 * `duplicate_session`: JetStream dropped a `session.open` because the same session id was opened
 * within the intake stream's duplicate window; the scheduler never saw the second open, so no
 * `session.opened` would ever come.
 */
export class DuplicateSessionError extends AutellixError {}

type ErrorClass = new (code: AutellixErrorCode, message: string, refs?: ErrorRefs) => AutellixError;

const BY_CODE: Readonly<Partial<Record<AutellixErrorCode, ErrorClass>>> = {
  [ErrorCode.unknownSession]: UnknownSessionError,
  [ErrorCode.sessionEnded]: SessionEndedError,
  [ErrorCode.duplicateCall]: DuplicateCallError,
  [ErrorCode.promptTooLong]: PromptTooLongError,
  [ErrorCode.badField]: InvalidRequestError,
  [ErrorCode.badMaxTokens]: InvalidRequestError,
  [ErrorCode.unknownParent]: InvalidRequestError,
  [ErrorCode.unknownType]: InvalidRequestError,
  [ErrorCode.badMsgpack]: InvalidRequestError,
  [ErrorCode.noEngine]: NoEngineError,
  [ErrorCode.engineFailed]: EngineFailedError,
  [ErrorCode.cancelled]: CancelledError,
  [ClientErrorCode.timeout]: TimeoutError,
  [ClientErrorCode.clientClosed]: ClientClosedError,
  [ClientErrorCode.publishFailed]: PublishError,
  [ClientErrorCode.duplicateSession]: DuplicateSessionError,
};

/** Builds the error subclass for `code` (plain `AutellixError` for `wrong_target`, `internal`, ...). */
export function errorFor(code: AutellixErrorCode, message: string, refs: ErrorRefs = {}): AutellixError {
  const Cls = BY_CODE[code] ?? AutellixError;
  return new Cls(code, message, refs);
}

/** Converts an inbound `error` message into the matching `AutellixError` subclass. */
export function fromErrorMessage(m: ErrorMessage): AutellixError {
  const refs: { sessionId?: string; callId?: string; field?: string } = {};
  if (m.sessionId !== undefined) refs.sessionId = m.sessionId;
  if (m.callId !== undefined) refs.callId = m.callId;
  if (m.field !== undefined) refs.field = m.field;
  return errorFor(m.code, m.message, refs);
}
