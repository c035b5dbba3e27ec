import type { IncomingHttpHeaders } from 'node:http';
import { isValidId } from '@autellix/client';
import { badRequest } from './http-error.ts';

/** Who a request belongs to: its program (session), thread, parents and call id. */
export interface CallIdentity {
  /** The program's session id; null for a request without identity (a one-call program). */
  readonly programId: string | null;
  readonly threadId: string | null;
  readonly parents: readonly string[];
  /** The call id the client chose; null lets the gateway pick one. */
  readonly callId: string | null;
  /** `X-Autellix-Class`: the kind of agent, for the `gittins` policy; null when absent. */
  readonly programClass: string | null;
}

function header(h: IncomingHttpHeaders, name: string): string | null {
  const v = h[name];
  if (v === undefined) return null;
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? null : s.trim();
}

function id(v: string | null, param: string): string | null {
  if (v !== null && !isValidId(v)) throw badRequest(`${param} must be 1-128 characters of [A-Za-z0-9_.:-]`, param);
  return v;
}

/**
 * Reads the identity of a completion request. The program comes from `X-Autellix-Program`, else
 * `X-Session-ID`, else the body's `session_id`; when more than one is given they must agree.
 * `X-Autellix-Thread` names the thread, `X-Autellix-Parents` the parent call ids (comma-separated,
 * at most 64), `X-Autellix-Call` the call id. Throws 400 for a malformed or conflicting value.
 */
export function callIdentity(h: IncomingHttpHeaders, bodySessionId: string | null): CallIdentity {
  const named = [
    ['X-Autellix-Program', header(h, 'x-autellix-program')],
    ['X-Session-ID', header(h, 'x-session-id')],
    ['session_id', bodySessionId],
  ].filter((p): p is [string, string] => p[1] !== null);
  const first = named[0];
  for (const [where, v] of named) {
    if (first !== undefined && v !== first[1]) throw badRequest(`${where} (${v}) names another program than ${first[0]} (${first[1]})`, where);
  }
  const programId = id(first === undefined ? null : first[1], first?.[0] ?? 'session_id');
  const parentsRaw = header(h, 'x-autellix-parents');
  const parents = parentsRaw === null ? [] : parentsRaw.split(',').map((p) => p.trim());
  if (parents.length > 64) throw badRequest('X-Autellix-Parents names more than 64 calls', 'X-Autellix-Parents');
  for (const p of parents) id(p, 'X-Autellix-Parents');
  const threadId = id(header(h, 'x-autellix-thread'), 'X-Autellix-Thread');
  const callId = id(header(h, 'x-autellix-call'), 'X-Autellix-Call');
  const programClass = id(header(h, 'x-autellix-class'), 'X-Autellix-Class');
  if (programId === null && (parents.length > 0 || callId !== null)) {
    throw badRequest('X-Autellix-Parents and X-Autellix-Call need a program (X-Autellix-Program)', 'X-Autellix-Program');
  }
  return { programId, threadId, parents, callId, programClass };
}
