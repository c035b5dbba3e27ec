import type { CallOutcome } from '@autellix/client';
import type { CompletionRequest } from './openai-request.ts';

/** `usage` as the OpenAI API shapes it. */
export interface OpenAiUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

/** What a response says about the call besides the OpenAI fields (an extension object). */
export interface AutellixCallInfo {
  readonly session_id: string;
  readonly call_id: string;
  readonly thread_id: string;
  readonly engine_id: string;
  readonly preemptions: number;
  readonly queued_ms: number;
  readonly first_token_ms: number;
  readonly total_ms: number;
}

/** The identity of one response: its id, creation time (unix seconds) and model. */
export interface ResponseMeta {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

export function usageOf(o: CallOutcome): OpenAiUsage {
  return {
    prompt_tokens: o.usage.promptTokens,
    completion_tokens: o.usage.completionTokens,
    total_tokens: o.usage.promptTokens + o.usage.completionTokens,
    prompt_tokens_details: { cached_tokens: o.usage.cachedTokens },
  };
}

/** `length` when the call produced its whole `max_tokens`, else `stop`. */
export function finishReason(o: CallOutcome, req: CompletionRequest): 'length' | 'stop' {
  return o.usage.completionTokens >= req.maxTokens ? 'length' : 'stop';
}

export function callInfo(o: CallOutcome): AutellixCallInfo {
  return {
    session_id: o.sessionId,
    call_id: o.callId,
    thread_id: o.threadId,
    engine_id: o.engineId,
    preemptions: o.preemptions,
    queued_ms: o.timings.queuedMs,
    first_token_ms: o.timings.firstTokenMs,
    total_ms: o.timings.totalMs,
  };
}

/** The non-streamed response body of a finished call. */
export function completionBody(req: CompletionRequest, meta: ResponseMeta, o: CallOutcome): Record<string, unknown> {
  const finish = finishReason(o, req);
  const common = { id: meta.id, created: meta.created, model: meta.model, usage: usageOf(o), system_fingerprint: null, autellix: callInfo(o) };
  if (req.kind === 'chat') {
    return {
      ...common,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: o.text, refusal: null }, finish_reason: finish, logprobs: null }],
    };
  }
  return { ...common, object: 'text_completion', choices: [{ index: 0, text: o.text, finish_reason: finish, logprobs: null }] };
}

/**
 * One streamed chunk: `text` as a delta (chat) or text (completions); `finish` on the last one;
 * `role` on the first chat chunk. `usage` alone makes the usage-only chunk (`choices` empty);
 * with text or finish it rides along (continuous usage stats).
 */
export function chunkBody(
  req: CompletionRequest,
  meta: ResponseMeta,
  part: { text?: string; role?: boolean; finish?: string; usage?: OpenAiUsage },
): Record<string, unknown> {
  const object = req.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const base = { id: meta.id, object, created: meta.created, model: meta.model, system_fingerprint: null };
  if (part.usage !== undefined && part.text === undefined && part.finish === undefined) return { ...base, choices: [], usage: part.usage };
  const finish = part.finish ?? null;
  const usage = part.usage === undefined ? {} : { usage: part.usage };
  if (req.kind === 'chat') {
    const delta: Record<string, string> = {};
    if (part.role === true) delta.role = 'assistant';
    if (part.text !== undefined) delta.content = part.text;
    return { ...base, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...usage };
  }
  return { ...base, choices: [{ index: 0, text: part.text ?? '', finish_reason: finish, logprobs: null }], ...usage };
}
