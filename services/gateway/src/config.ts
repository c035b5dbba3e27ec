/** Settings of the OpenAI-compatible gateway. */
export interface GatewayConfig {
  /** Address to listen on (default loopback). */
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Model names `GET /v1/models` lists and requests may name; the first is the default. */
  readonly models: readonly string[];
  /** `max_tokens` of a request that gives none. */
  readonly defaultMaxTokens: number;
  /** Calls in flight through this gateway at once; one more gets 429. */
  readonly maxInFlight: number;
  /** Calls in flight per program at once; one more gets 429. */
  readonly maxInFlightPerProgram: number;
  /** Seconds a 429 asks the client to wait (`Retry-After`). */
  readonly retryAfterSeconds: number;
  /** Largest request body accepted (bytes); a larger one gets 413. */
  readonly maxBodyBytes: number;
  /** A call that has not finished after this long is cancelled and answered 504 (ms). */
  readonly requestTimeoutMs: number;
  /** Idle TTL asked for sessions the gateway opens (ms); null for the scheduler's default. */
  readonly sessionIdleTtlMs: number | null;
  /**
   * API keys, each naming its tenant (key -> tenant); null (the default) for none. With keys, every
   * `/v1` and dashboard request needs one, and each tenant sees only its own programs (see `Tenants`).
   */
  readonly apiKeys: Readonly<Record<string, string>> | null;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  host: '127.0.0.1',
  port: 8000,
  models: ['autellix'],
  defaultMaxTokens: 256,
  maxInFlight: 1024,
  maxInFlightPerProgram: 64,
  retryAfterSeconds: 1,
  maxBodyBytes: 4 * 1024 * 1024,
  requestTimeoutMs: 600_000,
  sessionIdleTtlMs: null,
  apiKeys: null,
};

/** A gateway setting is out of range; the message names it. */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}

function positiveInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 1) throw new GatewayConfigError(`${name} = ${v} must be an integer >= 1`);
}

/** Returns the config unchanged when valid; throws `GatewayConfigError` naming the first bad field. */
export function validateGatewayConfig(c: GatewayConfig): GatewayConfig {
  if (!Number.isSafeInteger(c.port) || c.port < 0 || c.port > 65535) throw new GatewayConfigError(`port = ${c.port} must be 0-65535`);
  if (c.models.length === 0) throw new GatewayConfigError('models must name at least one model');
  for (const m of c.models) if (m.length === 0) throw new GatewayConfigError('model names must not be empty');
  positiveInt('defaultMaxTokens', c.defaultMaxTokens);
  positiveInt('maxInFlight', c.maxInFlight);
  positiveInt('maxInFlightPerProgram', c.maxInFlightPerProgram);
  positiveInt('retryAfterSeconds', c.retryAfterSeconds);
  positiveInt('maxBodyBytes', c.maxBodyBytes);
  positiveInt('requestTimeoutMs', c.requestTimeoutMs);
  if (c.sessionIdleTtlMs !== null) positiveInt('sessionIdleTtlMs', c.sessionIdleTtlMs);
  return c;
}
