import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AutellixClient, CallHandle, Session } from '@autellix/client';
import { AutellixError, estimatePromptTokens, randomSessionId } from '@autellix/client';
import type { MessageOf } from '@autellix/protocol';
import { ID_PATTERN } from '@autellix/protocol';
import type { Registry } from 'prom-client';
import { Admission } from './admission.ts';
import type { GatewayConfig } from './config.ts';
import { validateGatewayConfig } from './config.ts';
import { DASHBOARD_HTML } from './dashboard-page.ts';
import { gatewayMetrics } from './gateway-metrics.ts';
import { badRequest, fromAutellixError, HttpError } from './http-error.ts';
import type { CallIdentity } from './identity.ts';
import { callIdentity } from './identity.ts';
import type { CompletionRequest } from './openai-request.ts';
import { parseCompletionRequest } from './openai-request.ts';
import type { OpenAiUsage, ResponseMeta } from './openai-response.ts';
import { chunkBody, completionBody, finishReason, usageOf } from './openai-response.ts';
import { SessionPool } from './session-pool.ts';
import { programIdOf, sessionIdOf, Tenants } from './tenants.ts';

/** Counters of a running gateway (since start). */
export interface GatewayCounters {
  requests: number;
  completed: number;
  failed: number;
  /** Calls cancelled because their client disconnected. */
  disconnected: number;
}

/** A running gateway. `close` stops accepting, cancels calls in flight, and closes the server. */
export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:8000` (the OpenAI base URL is this plus `/v1`). */
  readonly url: string;
  readonly server: Server;
  readonly counters: Readonly<GatewayCounters>;
  /** The gateway's Prometheus registry (also served at `GET /metrics`). */
  readonly metrics: Registry;
  close(): Promise<void>;
}

/** Period of the dashboard's server-sent updates (ms). */
const DASHBOARD_INTERVAL_MS = 500;

const SSE_HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };

/**
 * Serves the OpenAI-compatible API over an autellix client: `POST /v1/chat/completions`,
 * `POST /v1/completions` (streamed as SSE or not), `GET /v1/models`, `POST /v1/sessions`,
 * `DELETE /v1/sessions/{id}`, `GET /v1/autellix/status`, `GET /metrics` (Prometheus), `GET /dashboard`
 * (live view, fed by `GET /dashboard/events`) and `GET /health`. Every error is
 * answered in the OpenAI error shape; an unexpected one is logged and answered 500, and the
 * server keeps serving. The client is the caller's: `close` leaves it open.
 */
export async function startGateway(client: AutellixClient, config: GatewayConfig, log: (line: string) => void): Promise<RunningGateway> {
  const cfg = validateGatewayConfig(config);
  const instance = randomBytes(3).toString('hex');
  const tenants = new Tenants(cfg.apiKeys);
  const pool = new SessionPool(client, `gw-${instance}`, cfg.sessionIdleTtlMs);
  const admission = new Admission(cfg.maxInFlight, cfg.maxInFlightPerProgram, cfg.retryAfterSeconds);
  const counters: GatewayCounters = { requests: 0, completed: 0, failed: 0, disconnected: 0 };
  const errors = new Map<string, number>();
  const metrics = gatewayMetrics({
    counters,
    errors,
    inFlight: () => admission.active,
    sessions: () => pool.size,
    rejected: () => admission.rejected,
  });
  const inFlight = new Set<AbortController>();
  let callSeq = 0;

  const server = createServer((req, res) => {
    counters.requests += 1;
    route(req, res).catch((err: unknown) => {
      const http = toHttpError(err);
      const key = `${http.status} ${http.type}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
      if (http.status >= 500) log(`${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
      sendError(res, http);
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    const method = req.method ?? 'GET';
    // With API keys on, every API and dashboard request names its tenant (401 otherwise).
    const query = new URL(req.url ?? '/', 'http://gateway').searchParams;
    const tenant = path.startsWith('/v1/') || path.startsWith('/dashboard') ? tenants.tenantOf(req, query.get('key')) : null;
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      allow(method, 'POST');
      await completion(path === '/v1/chat/completions' ? 'chat' : 'text', req, res, tenant);
    } else if (path === '/v1/models') {
      allow(method, 'GET');
      sendJson(res, 200, { object: 'list', data: cfg.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'autellix' })) });
    } else if (path.startsWith('/v1/models/')) {
      allow(method, 'GET');
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      if (!cfg.models.includes(id)) throw new HttpError(404, 'invalid_request_error', `The model \`${id}\` does not exist`, { param: 'model', code: 'model_not_found' });
      sendJson(res, 200, { id, object: 'model', created: 0, owned_by: 'autellix' });
    } else if (path === '/v1/sessions') {
      allow(method, 'POST');
      await openSession(req, res, tenant);
    } else if (path.startsWith('/v1/sessions/')) {
      allow(method, 'DELETE');
      await closeSession(decodeURIComponent(path.slice('/v1/sessions/'.length)), res, tenant);
    } else if (path === '/v1/autellix/status') {
      allow(method, 'GET');
      // Requests refused with 429 are counted where they are refused (`Admission`).
      sendJson(res, 200, { in_flight: admission.active, sessions: pool.size, counters: { ...counters, rejected: admission.rejected } });
    } else if (path === '/dashboard') {
      allow(method, 'GET');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).end(DASHBOARD_HTML);
    } else if (path === '/dashboard/events') {
      allow(method, 'GET');
      await dashboardEvents(query.get('program'), res, tenant);
    } else if (path === '/metrics') {
      allow(method, 'GET');
      const text = await metrics.metrics();
      res.writeHead(200, { 'content-type': metrics.contentType }).end(text);
    } else if (path === '/health') {
      sendJson(res, 200, { status: 'ok' });
    } else {
      throw new HttpError(404, 'invalid_request_error', `no route for ${method} ${path}`, { code: 'not_found' });
    }
  }

  async function completion(kind: 'chat' | 'text', req: IncomingMessage, res: ServerResponse, tenant: string | null): Promise<void> {
    const request = parseCompletionRequest(kind, await readJson(req, cfg.maxBodyBytes), cfg.models, cfg.defaultMaxTokens);
    const who = callIdentity(req.headers, request.sessionId);
    const oneShot = who.programId === null;
    const programId = who.programId ?? randomSessionId();
    const sessionId = sessionIdOf(tenant, programId);
    const release = admission.admit(sessionId);
    const ac = new AbortController();
    inFlight.add(ac);
    // The response closing before it was ended means the client went away: cancel its call.
    res.on('close', () => {
      if (!res.writableEnded && !ac.signal.aborted) {
        counters.disconnected += 1;
        ac.abort(new Error('client disconnected'));
      }
    });
    let session: Session | null = null;
    try {
      session = oneShot
        ? await client.openSession({ sessionId, ...(who.programClass === null ? {} : { programClass: who.programClass }) })
        : await pool.get(sessionId, who.programClass ?? undefined);
      const handle = startCall(session, request, who, ac.signal, w3cTraceparent(req.headers.traceparent));
      const meta: ResponseMeta = { id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${programId}-${handle.callId}`, created: Math.floor(Date.now() / 1000), model: request.model };
      res.setHeader('X-Autellix-Program', programId);
      res.setHeader('X-Autellix-Call-Id', handle.callId);
      if (request.stream) await streamCall(handle, request, meta, res);
      else sendJson(res, 200, completionBody(request, meta, await handle.result));
      counters.completed += 1;
    } catch (err) {
      if (!oneShot) pool.forgetOn(sessionId, err);
      counters.failed += 1;
      if (ac.signal.aborted && !res.writableEnded) res.destroy();
      else throw err;
    } finally {
      inFlight.delete(ac);
      release();
      if (oneShot && session !== null) session.close().catch((e: unknown) => log(`closing one-call program ${programId}: ${(e as Error).message}`));
    }
  }

  function startCall(session: Session, request: CompletionRequest, who: CallIdentity, signal: AbortSignal, traceparent: string | null): CallHandle {
    callSeq += 1;
    return session.call({
      // The HTTP caller's span is linked from the call's span (the call stays in its program's trace).
      ...(traceparent === null ? {} : { traceparent }),
      ...(request.kind === 'chat' ? { messages: request.messages } : { prompt: request.prompt as string }),
      maxTokens: request.maxTokens,
      callId: who.callId ?? `g${instance}-${callSeq}`,
      ...(who.threadId === null ? {} : { threadId: who.threadId }),
      parents: who.parents,
      stream: request.stream,
      signal,
      timeoutMs: cfg.requestTimeoutMs,
    });
  }

  async function openSession(req: IncomingMessage, res: ServerResponse, tenant: string | null): Promise<void> {
    const raw = await readJson(req, cfg.maxBodyBytes, true);
    const body = (raw ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object', null);
    const want = body.session_id;
    if (want !== undefined && typeof want !== 'string') throw badRequest('session_id must be a string', 'session_id');
    const ttl = body.idle_ttl_ms;
    if (ttl !== undefined && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 1)) throw badRequest('idle_ttl_ms must be an integer >= 1', 'idle_ttl_ms');
    const cls = body.program_class;
    if (cls !== undefined && typeof cls !== 'string') throw badRequest('program_class must be a string', 'program_class');
    const id = want ?? randomSessionId();
    if (!ID_PATTERN.test(id)) throw badRequest('session_id must be 1-128 characters of [A-Za-z0-9_.:-]', 'session_id');
    const sessionId = sessionIdOf(tenant, id);
    const session = await client.openSession({
      sessionId,
      openKey: pool.nextOpenKey(),
      ...(cls === undefined ? {} : { programClass: cls }),
      ...(ttl !== undefined ? { idleTtlMs: ttl as number } : cfg.sessionIdleTtlMs === null ? {} : { idleTtlMs: cfg.sessionIdleTtlMs }),
    });
    pool.adopt(sessionId, session);
    sendJson(res, 201, { id, object: 'session', idle_ttl_ms: session.idleTtlMs, existing: session.existing });
  }

  /**
   * Server-sent events for the dashboard: the scheduler's `monitor` view (with `?program=ID`, that
   * program's timeline too) every `DASHBOARD_INTERVAL_MS`, as `data:` JSON; a failed request is an
   * `event: problem` with its message, and the stream goes on. Ends when the client goes away.
   */
  async function dashboardEvents(program: string | null, res: ServerResponse, tenant: string | null): Promise<void> {
    if (program !== null && !ID_PATTERN.test(program)) {
      throw new HttpError(400, 'invalid_request_error', 'program must be 1-128 characters of [A-Za-z0-9_.:-]', { param: 'program' });
    }
    res.writeHead(200, SSE_HEADERS);
    let open = true;
    res.on('close', () => {
      open = false;
    });
    while (open) {
      try {
        const view = ownView(
          await client.monitor({
            ...(program === null ? {} : { programId: sessionIdOf(tenant, program) }),
            ...(tenant === null ? {} : { programPrefix: `${tenant}:` }),
          }),
          tenant,
        );
        if (open) res.write(`data: ${JSON.stringify(view)}\n\n`);
      } catch (err) {
        if (open) res.write(`event: problem\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
      }
      await new Promise((r) => setTimeout(r, DASHBOARD_INTERVAL_MS));
    }
  }

  async function closeSession(id: string, res: ServerResponse, tenant: string | null): Promise<void> {
    const sessionId = sessionIdOf(tenant, id);
    // A session this gateway does not hold is re-opened (an idempotent re-open) so it can be closed.
    const held = await pool.take(sessionId);
    const session = held ?? (await client.openSession({ sessionId, openKey: pool.nextOpenKey() }));
    if (held === null && !session.existing) {
      await session.close();
      throw new HttpError(404, 'not_found_error', `no session ${id}`, { param: 'id', code: 'unknown_session' });
    }
    const summary = await session.close();
    sendJson(res, 200, {
      id,
      object: 'session.deleted',
      deleted: true,
      calls_completed: summary.callsCompleted,
      service_seconds: summary.service,
      reason: summary.reason,
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    counters,
    metrics,
    close: async () => {
      for (const ac of inFlight) ac.abort(new Error('gateway closing'));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Streams a call as SSE: a role chunk (chat), text chunks, the finish chunk, usage if asked, `[DONE]`. */
async function streamCall(handle: CallHandle, request: CompletionRequest, meta: ResponseMeta, res: ServerResponse): Promise<void> {
  // Wait for the first chunk (or the failure) before committing to a 200, so that a call the
  // scheduler refuses still gets its proper status.
  const it = handle[Symbol.asyncIterator]();
  const first = await it.next();
  res.writeHead(200, SSE_HEADERS);
  const send = (body: unknown): void => {
    res.write(`data: ${JSON.stringify(body)}\n\n`);
  };
  try {
    if (request.kind === 'chat') send(chunkBody(request, meta, { role: true, text: '' }));
    // With continuous usage, each chunk carries the tokens so far; the prompt count is the
    // client's estimate until the result brings the engine's.
    const prompt = estimatePromptTokens({ ...(request.prompt === null ? {} : { prompt: request.prompt }), messages: request.messages }) ?? 0;
    let completion = 0;
    for (let r = first; r.done !== true; r = await it.next()) {
      completion += r.value.tokens;
      const usage = request.continuousUsage ? runningUsage(prompt, completion) : undefined;
      send(chunkBody(request, meta, { text: r.value.text, ...(usage === undefined ? {} : { usage }) }));
    }
    const outcome = await handle.result;
    const finalUsage = request.continuousUsage ? usageOf(outcome) : undefined;
    send(chunkBody(request, meta, { finish: finishReason(outcome, request), ...(finalUsage === undefined ? {} : { usage: finalUsage }) }));
    if (request.includeUsage) send(chunkBody(request, meta, { usage: usageOf(outcome) }));
    res.end('data: [DONE]\n\n');
  } catch (err) {
    // Headers are out: the error travels as an SSE event, which the OpenAI SDKs raise.
    if (!res.writableEnded && !res.destroyed) {
      send(toHttpError(err).body());
      res.end();
    }
    throw err;
  }
}

function runningUsage(prompt: number, completion: number): OpenAiUsage {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: 0 } };
}

function allow(method: string, wanted: string): void {
  if (method !== wanted) throw new HttpError(405, 'invalid_request_error', `use ${wanted}`, { code: 'method_not_allowed', headers: { Allow: wanted } });
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof AutellixError) return fromAutellixError(err);
  return new HttpError(500, 'server_error', 'internal error', { code: 'internal' });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.end();
    return;
  }
  sendJson(res, err.status, err.body(), { ...err.headers });
}

/**
 * Reads and parses a JSON body of at most `limit` bytes. Throws 413 when larger, 400 when not JSON.
 * With `optional`, an empty body is null.
 */
async function readJson(req: IncomingMessage, limit: number, optional = false): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  const tooLarge = (): HttpError => new HttpError(413, 'invalid_request_error', `the request body is over ${limit} bytes`, { code: 'request_too_large' });
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Past the limit the rest is read and dropped, so the client is answered 413 rather than
    // reset mid-send; past 16 times the limit the connection is given up at once.
    if (size > limit * 16) throw tooLarge();
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  if (size > limit) throw tooLarge();
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if (optional) return null;
    throw badRequest('the request body is empty; send a JSON object', null);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`, null, 'invalid_json');
  }
}

/** The request's W3C `traceparent` header when well-formed (version 00), else null. */
function w3cTraceparent(h: string | string[] | undefined): string | null {
  const v = Array.isArray(h) ? h[0] : h;
  return v !== undefined && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(v) ? v : null;
}

/**
 * The part of a monitor view a tenant may see: engines and queue levels (aggregates) and its own
 * programs only, named by their program ids (without the tenant prefix). Unchanged without keys.
 */
function ownView(view: MessageOf<'monitor'>, tenant: string | null): MessageOf<'monitor'> {
  if (tenant === null) return view;
  const programs = view.programs.flatMap((p) => {
    const id = programIdOf(tenant, p.programId);
    return id === null ? [] : [{ ...p, programId: id }];
  });
  const { timeline, ...rest } = view;
  const own = timeline === undefined ? null : programIdOf(tenant, timeline.programId);
  return {
    ...rest,
    programs,
    programCount: programs.length,
    ...(timeline === undefined || own === null ? {} : { timeline: { ...timeline, programId: own } }),
  };
}
