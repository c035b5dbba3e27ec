import type { ChatMessage } from '@autellix/protocol';
import { badRequest, HttpError } from './http-error.ts';

/** One completion request, reduced to what the system runs. */
export interface CompletionRequest {
  readonly kind: 'chat' | 'text';
  readonly model: string;
  /** Chat messages (`kind` chat); empty for text. */
  readonly messages: readonly ChatMessage[];
  /** The prompt (`kind` text); null for chat. */
  readonly prompt: string | null;
  readonly maxTokens: number;
  readonly stream: boolean;
  /** `stream_options.include_usage`: a last chunk carries `usage`. */
  readonly includeUsage: boolean;
  /** `stream_options.continuous_usage_stats` (as vLLM): every chunk carries `usage` so far. */
  readonly continuousUsage: boolean;
  /** `session_id` from the body, when given. */
  readonly sessionId: string | null;
}

type Json = Record<string, unknown>;

const ROLES: Readonly<Record<string, ChatMessage['role']>> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'tool',
  function: 'tool',
};

/** A message's text: a string, or the text parts of a content array; null content is empty. */
function contentText(content: unknown, at: string): string {
  if (content === null || content === undefined) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part, i) => {
        const p = part as Json;
        if (typeof p !== 'object' || p === null) throw badRequest(`${at}[${i}] must be an object`, `${at}[${i}]`);
        if (p.type === 'text' && typeof p.text === 'string') return p.text;
        throw badRequest(`${at}[${i}]: only text content parts are supported, got type ${JSON.stringify(p.type)}`, `${at}[${i}].type`);
      })
      .join('');
  }
  throw badRequest(`${at} must be a string, an array of text parts or null`, at);
}

function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest('messages must be a non-empty array', 'messages');
  return v.map((m, i) => {
    const at = `messages[${i}]`;
    if (typeof m !== 'object' || m === null) throw badRequest(`${at} must be an object`, at);
    const role = ROLES[String((m as Json).role)];
    if (role === undefined) throw badRequest(`${at}.role must be one of ${Object.keys(ROLES).join(', ')}`, `${at}.role`);
    return { role, content: contentText((m as Json).content, `${at}.content`) };
  });
}

function parsePrompt(v: unknown): string {
  if (typeof v === 'string' && v.length > 0) return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string' && v[0].length > 0) return v[0];
  if (Array.isArray(v) && v.length > 1) throw badRequest('prompt: one prompt per request is supported, not a batch', 'prompt', 'unsupported_value');
  throw badRequest('prompt must be a non-empty string', 'prompt');
}

function optionalInt(body: Json, field: string): number | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw badRequest(`${field} must be an integer >= 1`, field);
  return v;
}

/** Rejects options the system cannot honour rather than ignoring them. */
function rejectUnsupported(body: Json): void {
  const n = body.n;
  if (n !== undefined && n !== null && n !== 1) throw badRequest('n: only n = 1 is supported', 'n', 'unsupported_value');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) {
    throw badRequest('logprobs are not supported', 'logprobs', 'unsupported_value');
  }
  if (body.echo === true) throw badRequest('echo is not supported', 'echo', 'unsupported_value');
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) throw badRequest('best_of: only 1 is supported', 'best_of', 'unsupported_value');
}

/**
 * Validates a `/v1/chat/completions` (`kind` chat) or `/v1/completions` (`kind` text) body.
 * `models` are the names served; an absent `model` means the first. Sampling options
 * (temperature, top_p, stop, seed, tools, ...) are accepted and not applied: see
 * docs/gateway.md. Throws `HttpError` (400, or 404 for an unknown model).
 */
export function parseCompletionRequest(kind: 'chat' | 'text', raw: unknown, models: readonly string[], defaultMaxTokens: number): CompletionRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('the request body must be a JSON object', null);
  const body = raw as Json;
  const model = body.model === undefined ? (models[0] as string) : body.model;
  if (typeof model !== 'string') throw badRequest('model must be a string', 'model');
  if (!models.includes(model)) {
    throw new HttpError(404, 'invalid_request_error', `The model \`${model}\` does not exist; served: ${models.join(', ')}`, {
      param: 'model',
      code: 'model_not_found',
    });
  }
  rejectUnsupported(body);
  const maxTokens = optionalInt(body, 'max_completion_tokens') ?? optionalInt(body, 'max_tokens') ?? defaultMaxTokens;
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw badRequest('stream must be a boolean', 'stream');
  const options = body.stream_options as Json | undefined | null;
  if (options !== undefined && options !== null && typeof options !== 'object') throw badRequest('stream_options must be an object', 'stream_options');
  const sessionId = body.session_id;
  if (sessionId !== undefined && sessionId !== null && typeof sessionId !== 'string') throw badRequest('session_id must be a string', 'session_id');
  return {
    kind,
    model,
    messages: kind === 'chat' ? parseMessages(body.messages) : [],
    prompt: kind === 'text' ? parsePrompt(body.prompt) : null,
    maxTokens,
    stream: body.stream === true,
    includeUsage: options?.include_usage === true,
    continuousUsage: options?.continuous_usage_stats === true,
    sessionId: typeof sessionId === 'string' ? sessionId : null,
  };
}
