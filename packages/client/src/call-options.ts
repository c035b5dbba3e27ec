import type { AncestorRef, ChatMessage, SharedPrefix } from '@autellix/protocol';
import { ErrorCode, ID_PATTERN, MAX_ANCESTRY } from '@autellix/protocol';
import type { SubmitBody } from './call-handle.ts';
import { ValidationError } from './errors.ts';
import { estimatePromptTokens } from './estimate.ts';

/** Most parents a call may name (the protocol's limit). */
export const MAX_PARENTS = 64;

/** What a program asks of one LLM call. */
export interface CallOptions {
  /** Prompt text. At least one of `prompt`, `messages` and `promptTokens` is required. */
  readonly prompt?: string;
  /** Chat messages, as in the OpenAI API (may be given with `prompt`; both count toward the estimate). */
  readonly messages?: readonly ChatMessage[];
  /** Prompt length in tokens including the context it extends; estimated from the text when absent (`estimatePromptTokens`). */
  readonly promptTokens?: number;
  /** Most tokens to generate: an integer >= 1 (the scheduler may enforce a lower maximum). */
  readonly maxTokens: number;
  /** Id of the call within the session; default `c<n>` from a per-session counter (c1, c2, ...). */
  readonly callId?: string;
  /** Default `main`. */
  readonly threadId?: string;
  /** Calls of this session this one follows (at most 64); default none. */
  readonly parents?: readonly string[];
  readonly prefix?: SharedPrefix;
  /**
   * The call's first-parent chain, oldest first, each ancestor's id and where its context ends
   * (at most 256). Only simulated engines read it, to model prefix caching across engines; give
   * it when replaying a trace against `sim` engines. Default none.
   */
  readonly ancestry?: readonly AncestorRef[];
  /** Ask the engine for `token.chunk`s; default true. With false the handle yields no chunks. */
  readonly stream?: boolean;
  /** Aborting it cancels the call (see `CallHandle.cancel`). */
  readonly signal?: AbortSignal;
  /** Cancels the call and rejects with `TimeoutError` after this long (ms); default none. */
  readonly timeoutMs?: number;
  /** W3C traceparent of the caller's span. */
  readonly traceparent?: string;
}

function fail(code: ErrorCode, field: string, why: string, refs: { sessionId: string; callId: string }): never {
  throw new ValidationError(code, `${field} ${why}`, { ...refs, field });
}

function checkId(v: string, field: string, refs: { sessionId: string; callId: string }): void {
  if (!ID_PATTERN.test(v)) fail(ErrorCode.badField, field, 'must be 1-128 characters of [A-Za-z0-9_.:-]', refs);
}

/** True when `id` is a valid session, call or thread id (1-128 of `[A-Za-z0-9_.:-]`). */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * Turns call options into the `call.submit` fields (without `replyTo`).
 * @throws ValidationError naming the first bad field: no prompt, messages or promptTokens; an
 *   invalid id; too many parents; a non-integer or < 1 token count; a non-positive timeout.
 */
export function buildSubmitBody(sessionId: string, callId: string, o: CallOptions): SubmitBody {
  const refs = { sessionId, callId };
  const threadId = o.threadId ?? 'main';
  checkId(callId, 'callId', refs);
  checkId(threadId, 'threadId', refs);
  const parents = o.parents ?? [];
  if (parents.length > MAX_PARENTS) fail(ErrorCode.badField, 'parents', `must hold at most ${MAX_PARENTS} call ids`, refs);
  parents.forEach((p, i) => {
    checkId(p, `parents[${i}]`, refs);
  });
  if (!Number.isSafeInteger(o.maxTokens) || o.maxTokens < 1) fail(ErrorCode.badMaxTokens, 'maxTokens', 'must be an integer >= 1', refs);
  const promptTokens = o.promptTokens ?? estimatePromptTokens(o);
  if (promptTokens === null) fail(ErrorCode.badField, 'prompt', 'is missing: give prompt, messages or promptTokens', refs);
  if (!Number.isSafeInteger(promptTokens) || promptTokens < 1) fail(ErrorCode.badField, 'promptTokens', 'must be an integer >= 1', refs);
  if (o.prefix !== undefined) {
    checkId(o.prefix.id, 'prefix.id', refs);
    if (!Number.isSafeInteger(o.prefix.tokens) || o.prefix.tokens < 1) fail(ErrorCode.badField, 'prefix.tokens', 'must be an integer >= 1', refs);
  }
  if (o.ancestry !== undefined) {
    if (o.ancestry.length > MAX_ANCESTRY) fail(ErrorCode.badField, 'ancestry', `must hold at most ${MAX_ANCESTRY} entries`, refs);
    o.ancestry.forEach((a, i) => {
      checkId(a.callId, `ancestry[${i}].callId`, refs);
      if (!Number.isSafeInteger(a.end) || a.end < 1) fail(ErrorCode.badField, `ancestry[${i}].end`, 'must be an integer >= 1', refs);
    });
  }
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) {
    fail(ErrorCode.badField, 'timeoutMs', 'must be a positive number of ms', refs);
  }
  const body: { -readonly [K in keyof SubmitBody]: SubmitBody[K] } = {
    sessionId,
    callId,
    threadId,
    parents: [...parents],
    promptTokens,
    maxTokens: o.maxTokens,
    stream: o.stream ?? true,
  };
  if (o.prompt !== undefined) body.prompt = o.prompt;
  if (o.messages !== undefined) body.messages = o.messages.map((m) => ({ role: m.role, content: m.content }));
  if (o.prefix !== undefined) body.prefix = { id: o.prefix.id, tokens: o.prefix.tokens };
  if (o.ancestry !== undefined) body.ancestry = o.ancestry.map((a) => ({ callId: a.callId, end: a.end }));
  if (o.traceparent !== undefined) body.traceparent = o.traceparent;
  return body;
}
