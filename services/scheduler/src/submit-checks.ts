import type { CallSubmit } from '@autellix/protocol';
import { ErrorCode, ProtocolError } from '@autellix/protocol';
import type { SchedulerServiceConfig } from './config.ts';
import { UNCLAIMED_SEQ } from './fast-intake.ts';
import type { Session } from './session-table.ts';

/** What `checkSubmit` decided about a `call.submit` in an open session. */
export type SubmitVerdict =
  | { readonly kind: 'accept' }
  /** The same stream message applied before a crash or restart: nothing to do. */
  | { readonly kind: 'reapplied' }
  /** The stream's copy of a submission already applied from the fast path (see `fast-intake.ts`). */
  | { readonly kind: 'claim' }
  | { readonly kind: 'reject'; readonly error: ProtocolError };

/**
 * Checks a submission against its session and the configured limits, in this order: a call id
 * already used (the same stream sequence means a re-application, not a duplicate; a call still
 * at `UNCLAIMED_SEQ` is claimed by the stream's copy), max tokens out of 1..`maxTokens`, a prompt
 * over `maxPromptTokens`, a parent never submitted. `seq` is `UNCLAIMED_SEQ` for the fast path's
 * copy, which then never claims. Pure.
 */
export function checkSubmit(
  msg: CallSubmit,
  seq: number,
  s: Session,
  limits: Pick<SchedulerServiceConfig, 'maxTokens' | 'maxPromptTokens'>,
): SubmitVerdict {
  const known = s.calls.get(msg.callId)?.submitSeq ?? s.finished.get(msg.callId);
  if (known !== undefined) {
    if (known === seq) return { kind: 'reapplied' };
    if (known === UNCLAIMED_SEQ) return { kind: 'claim' };
    return reject(ErrorCode.duplicateCall, `call ${msg.callId} already exists in session ${msg.sessionId}`, 'callId');
  }
  if (msg.maxTokens < 1 || msg.maxTokens > limits.maxTokens) {
    return reject(ErrorCode.badMaxTokens, `maxTokens = ${msg.maxTokens} must be between 1 and ${limits.maxTokens}`, 'maxTokens');
  }
  if (msg.promptTokens > limits.maxPromptTokens) {
    return reject(ErrorCode.promptTooLong, `promptTokens = ${msg.promptTokens} is over the limit of ${limits.maxPromptTokens}`, 'promptTokens');
  }
  for (const p of msg.parents) {
    if (!s.calls.has(p) && !s.finished.has(p)) {
      return reject(ErrorCode.unknownParent, `parent call ${p} was never submitted in session ${msg.sessionId}`, 'parents');
    }
  }
  return { kind: 'accept' };
}

function reject(code: ErrorCode, message: string, field: string): SubmitVerdict {
  return { kind: 'reject', error: new ProtocolError(code, message, field) };
}
