import { ConfigError } from '@autellix/core';
import type { CallAssign, ChatMessage, Priority, ProgressItem } from '@autellix/protocol';
import type { BackendLoad, BackendSink, EngineBackend } from './backend.ts';
import { sseData } from './sse-reader.ts';
import type { WallCall } from './wall-call.ts';
import { byPriority, finishedAccounts, switchAt, wallCallFields, wallProgress } from './wall-call.ts';

/** Settings of the `openai` backend. */
export interface OpenAiBackendConfig {
  /** Base URL of the server's OpenAI API, e.g. `http://127.0.0.1:8001/v1`. */
  readonly baseUrl: string;
  /** Model name sent with every request. */
  readonly model: string;
  /** Bearer token; null sends none. */
  readonly apiKey: string | null;
  /**
   * Calls streaming from the server at once. The rest wait here, so this engine, not the
   * server, decides the order; one more call than the cap that outranks a running one preempts it.
   */
  readonly maxConcurrent: number;
  /** Send the call's level as the request's `priority` (vLLM's priority scheduling; lower first). */
  readonly sendPriority: boolean;
  /**
   * How a preempted chat call resumes: `vllm` appends the text so far as an assistant message
   * with `continue_final_message: true, add_generation_prompt: false` (the model continues that
   * message); `plain` only appends the message (servers without that option start a new turn).
   */
  readonly continuation: 'vllm' | 'plain';
  /**
   * Ask for `stream_options.continuous_usage_stats` (vLLM, and this project's gateway): every
   * chunk carries the completion tokens so far. Without it each content chunk counts as one
   * token until the final `usage`.
   */
  readonly continuousUsage: boolean;
}

export const DEFAULT_OPENAI_BACKEND: OpenAiBackendConfig = {
  baseUrl: 'http://127.0.0.1:8000/v1',
  model: 'autellix',
  apiKey: null,
  maxConcurrent: 8,
  sendPriority: false,
  continuation: 'vllm',
  continuousUsage: true,
};

/** Returns the config unchanged when valid; throws `ConfigError` naming the first bad field. */
export function validateOpenAiBackendConfig(c: OpenAiBackendConfig): OpenAiBackendConfig {
  if (!Number.isSafeInteger(c.maxConcurrent) || c.maxConcurrent < 1) {
    throw new ConfigError(`openai.maxConcurrent = ${c.maxConcurrent} must be an integer >= 1`);
  }
  let url: URL;
  try {
    url = new URL(c.baseUrl);
  } catch {
    throw new ConfigError(`openai.baseUrl "${c.baseUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`openai.baseUrl "${c.baseUrl}" must be http or https`);
  if (c.model.length === 0) throw new ConfigError('openai.model must not be empty');
  if (c.continuation !== 'vllm' && c.continuation !== 'plain') throw new ConfigError(`openai.continuation = ${String(c.continuation)} must be vllm or plain`);
  return c;
}

export interface OpenAiBackendOptions extends OpenAiBackendConfig {
  /** Wall clock in ms (monotonic), e.g. `performance.now`. */
  readonly clock: () => number;
  /** The HTTP client; the global `fetch` in production. */
  readonly fetch: typeof fetch;
}

interface Held extends WallCall {
  running: boolean;
  /** Text and completion tokens generated so far, over every segment. */
  text: string;
  tokens: number;
  /** From the first segment's usage, when the server sent it. */
  promptTokens: number | null;
  cachedTokens: number | null;
  controller: AbortController | null;
  /** Incremented at each start; events of an older segment (aborted) are ignored. */
  run: number;
}

/**
 * The `openai` backend: runs calls on any OpenAI-compatible server (vLLM, SGLang, a llama.cpp
 * server, this project's gateway) over streaming HTTP. At most `maxConcurrent` calls stream at
 * once, in priority order (level, key, seq); a waiting call that outranks a running one when
 * all slots are taken preempts it: its stream is aborted, the text so far kept, and it resumes
 * later by re-submitting its prompt plus that text as a continuation for the tokens left (a
 * prefix cache on the server makes the re-read cheap; unlike a real swap it re-runs prefill and
 * may tokenize the joint differently). Service is wall time spent streaming, measured on the
 * wire; wait is wall time held here and not streaming. Calls with `messages` use
 * `/chat/completions`, the others `/completions`.
 */
export class OpenAiBackend implements EngineBackend {
  readonly name = 'openai';
  readonly maxBatch: number;
  /** The server's cache is not visible from here. */
  readonly prefixCache = null;
  private readonly held = new Map<string, Held>();
  private closed = false;

  constructor(
    private readonly options: OpenAiBackendOptions,
    private readonly sink: BackendSink,
  ) {
    validateOpenAiBackendConfig(options);
    this.maxBatch = options.maxConcurrent;
  }

  admit(call: CallAssign): void {
    const key = `${call.sessionId}/${call.callId}`;
    if (this.held.has(key)) return;
    // Object.assign, not a spread that adds properties (a new hidden class per call on Node 20).
    this.held.set(
      key,
      Object.assign(wallCallFields(call, this.options.clock()), {
        running: false,
        text: '',
        tokens: 0,
        promptTokens: null,
        cachedTokens: null,
        controller: null,
        run: 0,
      }),
    );
    this.pump();
  }

  setPriority(key: string, priority: Priority): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    h.priority = { level: priority.level, key: priority.key, seq: priority.seq };
    this.pump();
    return true;
  }

  cancel(key: string): boolean {
    const h = this.held.get(key);
    if (h === undefined) return false;
    this.stopStream(h);
    this.held.delete(key);
    this.pump();
    return true;
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  keys(): string[] {
    return [...this.held.keys()];
  }

  progress(): ProgressItem[] {
    const now = this.options.clock();
    return [...this.held.values()].map((h) => wallProgress(h, h.running, now));
  }

  /** `kvUsed` is the fraction of stream slots in use: the server's memory is not visible here. */
  load(): BackendLoad {
    let running = 0;
    for (const h of this.held.values()) if (h.running) running += 1;
    return { running, queued: this.held.size - running, kvUsed: running / this.options.maxConcurrent };
  }

  close(): void {
    this.closed = true;
    for (const h of this.held.values()) this.stopStream(h);
    this.held.clear();
  }

  /** Starts waiting calls in priority order while slots are free, preempting a worse running call when none is. */
  private pump(): void {
    if (this.closed) return;
    const all = [...this.held.values()];
    const waiting = all.filter((h) => !h.running).sort(byPriority);
    const running = all.filter((h) => h.running).sort(byPriority);
    for (const w of waiting) {
      if (running.length < this.options.maxConcurrent) {
        this.start(w);
        running.push(w);
        running.sort(byPriority);
        continue;
      }
      const worst = running[running.length - 1];
      if (worst === undefined || byPriority(w, worst) >= 0) break;
      running.pop();
      this.preempt(worst);
      this.start(w);
      running.push(w);
      running.sort(byPriority);
    }
  }

  private start(h: Held): void {
    switchAt(h, this.options.clock(), true);
    this.sink.phase(h.key, true);
    h.running = true;
    h.run += 1;
    h.controller = new AbortController();
    void this.stream(h, h.run, h.controller.signal);
  }

  private preempt(h: Held): void {
    h.preemptions += 1;
    this.stopStream(h);
    this.sink.phase(h.key, false);
  }

  /** Aborts the call's stream (if any) and books its service; it stays held unless the caller drops it. */
  private stopStream(h: Held): void {
    if (!h.running) return;
    switchAt(h, this.options.clock(), false);
    h.running = false;
    h.run += 1;
    h.controller?.abort();
    h.controller = null;
  }

  /** The request body of the call's next segment. */
  private requestBody(h: Held): { path: string; body: Record<string, unknown> } {
    const a = h.assign;
    const o = this.options;
    const body: Record<string, unknown> = {
      model: o.model,
      max_tokens: Math.max(1, a.maxTokens - h.tokens),
      stream: true,
      stream_options: o.continuousUsage ? { include_usage: true, continuous_usage_stats: true } : { include_usage: true },
    };
    if (o.sendPriority) body.priority = h.priority.level;
    if (a.messages !== undefined && a.messages.length > 0) {
      const messages: ChatMessage[] = [...a.messages];
      if (a.prompt !== undefined) messages.push({ role: 'user', content: a.prompt });
      if (h.text.length > 0) {
        messages.push({ role: 'assistant', content: h.text });
        if (o.continuation === 'vllm') {
          body.continue_final_message = true;
          body.add_generation_prompt = false;
        }
      }
      body.messages = messages;
      return { path: '/chat/completions', body };
    }
    body.prompt = (a.prompt ?? '') + h.text;
    return { path: '/completions', body };
  }

  private async stream(h: Held, run: number, signal: AbortSignal): Promise<void> {
    const key = h.key;
    const live = (): boolean => h.run === run && this.held.get(key) === h;
    const base = h.tokens;
    let finalTokens: number | null = null;
    let finished = false;
    const { path, body } = this.requestBody(h);
    try {
      const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'text/event-stream', 'X-Autellix-Program': h.assign.sessionId };
      if (this.options.apiKey !== null) headers.Authorization = `Bearer ${this.options.apiKey}`;
      const res = await this.options.fetch(`${this.options.baseUrl.replace(/\/$/, '')}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal });
      if (!res.ok || res.body === null) {
        const text = await res.text().catch(() => '');
        throw new Error(`${path}: HTTP ${res.status}${text === '' ? '' : `: ${upstreamMessage(text)}`}`);
      }
      for await (const data of sseData(res.body)) {
        if (!live()) return;
        if (data === '[DONE]') {
          finished = true;
          break;
        }
        const event = JSON.parse(data) as StreamEvent;
        if (event.error !== undefined) throw new Error(`${path}: ${event.error.message ?? JSON.stringify(event.error)}`);
        const usage = event.usage ?? null;
        if (usage !== null && h.promptTokens === null && base === 0) {
          h.promptTokens = usage.prompt_tokens ?? null;
          h.cachedTokens = usage.prompt_tokens_details?.cached_tokens ?? null;
        }
        const choice = event.choices?.[0];
        const text = choice === undefined ? '' : (choice.delta?.content ?? choice.text ?? '');
        const soFar = usage?.completion_tokens;
        if (text.length > 0) {
          const now = base + (soFar ?? h.tokens - base + 1);
          const tokens = Math.max(1, now - h.tokens);
          h.text += text;
          h.tokens += tokens;
          h.prefilling = false;
          if (Number.isNaN(h.firstTokenAt)) h.firstTokenAt = this.options.clock();
          this.sink.tokens(key, text, tokens);
        }
        if (soFar !== undefined) finalTokens = base + soFar;
        if (choice?.finish_reason != null) finished = true;
      }
      if (!live()) return;
      if (!finished) throw new Error(`${path}: the stream ended before the call finished`);
      this.finish(h, finalTokens);
    } catch (err) {
      if (!live()) return;
      this.stopStream(h);
      this.held.delete(key);
      this.sink.failed(key, `openai backend: ${(err as Error).message}`);
      this.pump();
    }
  }

  private finish(h: Held, finalTokens: number | null): void {
    this.stopStream(h);
    const key = h.key;
    this.held.delete(key);
    const now = this.options.clock();
    this.sink.finished({
      key,
      text: h.text,
      promptTokens: h.promptTokens ?? h.assign.promptTokens,
      completionTokens: finalTokens ?? h.tokens,
      cachedTokens: h.cachedTokens ?? 0,
      ...finishedAccounts(h, now),
    });
    this.pump();
  }
}

/** One streamed event of the OpenAI API (chat or text), as far as this backend reads it. */
interface StreamEvent {
  readonly choices?: readonly { readonly delta?: { readonly content?: string | null }; readonly text?: string; readonly finish_reason?: string | null }[];
  readonly usage?: {
    readonly prompt_tokens?: number;
    readonly completion_tokens?: number;
    readonly prompt_tokens_details?: { readonly cached_tokens?: number } | null;
  } | null;
  readonly error?: { readonly message?: string };
}

/** The `error.message` of an OpenAI-shaped error body, else the body itself (shortened). */
function upstreamMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { error?: { message?: string } }).error?.message;
    if (typeof m === 'string') return m;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}
