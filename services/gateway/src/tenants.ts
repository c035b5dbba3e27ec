import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatewayConfigError } from './config.ts';
import { HttpError } from './http-error.ts';

/** Tenant names: one token, so `<tenant>:<program>` stays a valid session id. */
export const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

const digest = (key: string): string => createHash('sha256').update(key).digest('hex');

/**
 * The gateway's API keys, each naming a tenant. With keys on, every API request must carry one
 * (`Authorization: Bearer <key>`, as OpenAI clients send it; or `?key=` on the dashboard, whose
 * EventSource cannot set headers), and a tenant's program ids live in its own namespace: the
 * scheduler's session id is `<tenant>:<program id>`, so one tenant can neither reach nor list
 * another's sessions. Keys are kept only as SHA-256 digests.
 */
export class Tenants {
  private readonly byDigest: ReadonlyMap<string, string>;

  /** `keys`: API key -> tenant; null turns keys off (every request is the anonymous tenant). */
  constructor(keys: Readonly<Record<string, string>> | null) {
    const m = new Map<string, string>();
    if (keys !== null) {
      for (const [key, tenant] of Object.entries(keys)) {
        if (key.length < 8) throw new GatewayConfigError(`API key of tenant ${tenant} is shorter than 8 characters`);
        if (!TENANT_PATTERN.test(tenant)) throw new GatewayConfigError(`tenant "${tenant}" must be 1-32 characters of [A-Za-z0-9_-]`);
        m.set(digest(key), tenant);
      }
      if (m.size === 0) throw new GatewayConfigError('apiKeys is empty: give at least one key, or null for no keys');
    }
    this.byDigest = keys === null ? new Map() : m;
    this.on = keys !== null;
  }

  /** True when requests must carry a key. */
  readonly on: boolean;

  /**
   * The tenant of a request, or null when keys are off. With keys on, a missing or unknown key
   * is a 401 (`invalid_api_key`).
   */
  tenantOf(req: IncomingMessage, queryKey: string | null = null): string | null {
    if (!this.on) return null;
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : null;
    const key = bearer ?? queryKey;
    if (key === null || key === '') {
      throw new HttpError(401, 'invalid_request_error', 'an API key is required: Authorization: Bearer <key>', { code: 'invalid_api_key' });
    }
    const tenant = this.byDigest.get(digest(key));
    if (tenant === undefined) throw new HttpError(401, 'invalid_request_error', 'the API key is not valid', { code: 'invalid_api_key' });
    return tenant;
  }
}

/** The scheduler's session id of a tenant's program id (`<tenant>:<id>`; the id itself without keys). 400 when too long. */
export function sessionIdOf(tenant: string | null, programId: string): string {
  if (tenant === null) return programId;
  const id = `${tenant}:${programId}`;
  if (id.length > 128) {
    throw new HttpError(400, 'invalid_request_error', `program id too long: with the tenant prefix it must stay within 128 characters`, { param: 'session_id' });
  }
  return id;
}

/** The tenant's program id of a scheduler session id, or null when the session is another tenant's. */
export function programIdOf(tenant: string | null, sessionId: string): string | null {
  if (tenant === null) return sessionId;
  const prefix = `${tenant}:`;
  return sessionId.startsWith(prefix) ? sessionId.slice(prefix.length) : null;
}
