import type { AutellixError } from '@autellix/client';
import { ClientErrorCode } from '@autellix/client';
import { ErrorCode } from '@autellix/protocol';

/** The body of every error response, as the OpenAI API shapes it. */
export interface OpenAiErrorBody {
  readonly error: {
    readonly message: string;
    /** `invalid_request_error`, `not_found_error`, `rate_limit_error`, `server_error`, ... */
    readonly type: string;
    /** The offending request field, or null. */
    readonly param: string | null;
    /** A stable machine-readable code (autellix's error codes where one applies), or null. */
    readonly code: string | null;
  };
}

/**
 * A request that ends in an HTTP error. `status` is the HTTP status; `headers` are extra response
 * headers (e.g. `Retry-After` on 429).
 */
export class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly code: string | null;
  readonly headers: Readonly<Record<string, string>>;
  constructor(
    status: number,
    type: string,
    message: string,
    opts: { param?: string | null; code?: string | null; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.type = type;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 `invalid_request_error` naming the field at fault. */
export function badRequest(message: string, param: string | null, code = 'invalid_value'): HttpError {
  return new HttpError(400, 'invalid_request_error', message, { param, code });
}

/** Maps one wire or client error code to its HTTP status and OpenAI error type. */
const BY_CODE: Readonly<Record<string, { status: number; type: string }>> = {
  [ErrorCode.badMsgpack]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.unknownType]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.badField]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.badMaxTokens]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.unknownParent]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.promptTooLong]: { status: 400, type: 'invalid_request_error' },
  [ErrorCode.unknownSession]: { status: 404, type: 'not_found_error' },
  [ErrorCode.sessionEnded]: { status: 410, type: 'invalid_request_error' },
  [ErrorCode.duplicateCall]: { status: 409, type: 'invalid_request_error' },
  [ErrorCode.noEngine]: { status: 503, type: 'server_error' },
  [ErrorCode.engineFailed]: { status: 502, type: 'server_error' },
  [ErrorCode.cancelled]: { status: 499, type: 'invalid_request_error' },
  [ErrorCode.wrongTarget]: { status: 500, type: 'server_error' },
  [ErrorCode.internal]: { status: 500, type: 'server_error' },
  [ClientErrorCode.timeout]: { status: 504, type: 'server_error' },
  [ClientErrorCode.clientClosed]: { status: 503, type: 'server_error' },
  [ClientErrorCode.publishFailed]: { status: 503, type: 'server_error' },
  [ClientErrorCode.duplicateSession]: { status: 409, type: 'invalid_request_error' },
};

/** The HTTP error for a failure the client SDK reported; unknown codes are 500s. */
export function fromAutellixError(err: AutellixError): HttpError {
  const m = BY_CODE[err.code] ?? { status: 500, type: 'server_error' };
  const code = err.code === ErrorCode.promptTooLong ? 'context_length_exceeded' : err.code;
  return new HttpError(m.status, m.type, err.message, { param: err.field === null ? null : toSnake(err.field), code });
}

/** `maxTokens` -> `max_tokens`: the SDK names fields in camelCase, the HTTP API in snake_case. */
function toSnake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
