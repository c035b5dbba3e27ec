import { describe, expect, it } from 'vitest';
import { Admission } from '../src/admission.ts';
import { validateGatewayConfig, DEFAULT_GATEWAY_CONFIG, GatewayConfigError } from '../src/config.ts';
import { HttpError } from '../src/http-error.ts';
import { callIdentity } from '../src/identity.ts';
import { parseCompletionRequest } from '../src/openai-request.ts';

const MODELS = ['autellix', 'other'];

function httpError(f: () => unknown): HttpError {
  try {
    f();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError');
}

describe('parseCompletionRequest', () => {
  it('reduces a chat request: roles mapped, text parts joined, max_completion_tokens over max_tokens', () => {
    const r = parseCompletionRequest(
      'chat',
      {
        model: 'other',
        messages: [
          { role: 'developer', content: 'rules' },
          { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
          { role: 'assistant', content: null },
        ],
        max_tokens: 5,
        max_completion_tokens: 7,
        stream: true,
        stream_options: { include_usage: true },
        temperature: 0.2,
      },
      MODELS,
      256,
    );
    expect(r).toMatchObject({ kind: 'chat', model: 'other', maxTokens: 7, stream: true, includeUsage: true, prompt: null, sessionId: null });
    expect(r.messages).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: 'ab' },
      { role: 'assistant', content: '' },
    ]);
  });

  it('defaults the model and max_tokens, and takes a one-element prompt array', () => {
    const r = parseCompletionRequest('text', { prompt: ['hi'] }, MODELS, 33);
    expect(r).toMatchObject({ model: 'autellix', maxTokens: 33, prompt: 'hi', stream: false });
  });

  it('names the field at fault', () => {
    const cases: [unknown, string | null, number][] = [
      [[], null, 400],
      [{ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, 'model', 404],
      [{ messages: 'x' }, 'messages', 400],
      [{ messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', 400],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0].type', 400],
      [{ messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, 'max_tokens', 400],
      [{ messages: [{ role: 'user', content: 'x' }], max_tokens: 1.5 }, 'max_tokens', 400],
      [{ messages: [{ role: 'user', content: 'x' }], stream: 'yes' }, 'stream', 400],
      [{ messages: [{ role: 'user', content: 'x' }], logprobs: true }, 'logprobs', 400],
      [{ messages: [{ role: 'user', content: 'x' }], session_id: 7 }, 'session_id', 400],
    ];
    for (const [body, param, status] of cases) {
      const e = httpError(() => parseCompletionRequest('chat', body, MODELS, 16));
      expect([e.param, e.status]).toEqual([param, status]);
    }
    expect(httpError(() => parseCompletionRequest('text', { prompt: ['a', 'b'] }, MODELS, 16)).code).toBe('unsupported_value');
    expect(httpError(() => parseCompletionRequest('text', { prompt: '' }, MODELS, 16)).param).toBe('prompt');
  });
});

describe('callIdentity', () => {
  it('takes the program from X-Autellix-Program, X-Session-ID or the body, and parents as a list', () => {
    expect(callIdentity({ 'x-autellix-program': 'p1', 'x-autellix-parents': 'a, b', 'x-autellix-thread': 't' }, null)).toEqual({
      programId: 'p1',
      threadId: 't',
      parents: ['a', 'b'],
      callId: null,
      programClass: null,
    });
    expect(callIdentity({ 'x-session-id': 's1' }, 's1').programId).toBe('s1');
    expect(callIdentity({}, 'b1').programId).toBe('b1');
    expect(callIdentity({}, null).programId).toBeNull();
  });

  it('refuses conflicting or malformed identities, and parents without a program', () => {
    expect(httpError(() => callIdentity({ 'x-autellix-program': 'a' }, 'b')).param).toBe('session_id');
    expect(httpError(() => callIdentity({ 'x-autellix-program': 'a b' }, null)).param).toBe('X-Autellix-Program');
    expect(httpError(() => callIdentity({ 'x-autellix-program': 'a', 'x-autellix-parents': 'ok,bad id' }, null)).param).toBe('X-Autellix-Parents');
    expect(httpError(() => callIdentity({ 'x-autellix-parents': 'c1' }, null)).param).toBe('X-Autellix-Program');
    const many = Array.from({ length: 65 }, (_, i) => `c${i}`).join(',');
    expect(httpError(() => callIdentity({ 'x-autellix-program': 'a', 'x-autellix-parents': many }, null)).status).toBe(400);
  });
});

describe('Admission', () => {
  it('counts calls in all and per program, refuses over either limit with 429, and releases once', () => {
    const a = new Admission(3, 2, 4);
    const r1 = a.admit('p');
    a.admit('p');
    const e = httpError(() => a.admit('p'));
    expect([e.status, e.headers['Retry-After'], e.code]).toEqual([429, '4', 'rate_limit_exceeded']);
    a.admit('q');
    expect(httpError(() => a.admit('r')).status).toBe(429);
    expect(a.rejected).toBe(2);
    r1();
    r1();
    expect(a.active).toBe(2);
    a.admit('p');
    expect(a.active).toBe(3);
  });
});

describe('validateGatewayConfig', () => {
  it('accepts the defaults and names a bad field', () => {
    expect(validateGatewayConfig(DEFAULT_GATEWAY_CONFIG)).toBe(DEFAULT_GATEWAY_CONFIG);
    expect(() => validateGatewayConfig({ ...DEFAULT_GATEWAY_CONFIG, maxInFlight: 0 })).toThrow(GatewayConfigError);
    expect(() => validateGatewayConfig({ ...DEFAULT_GATEWAY_CONFIG, models: [] })).toThrow(/models/);
    expect(() => validateGatewayConfig({ ...DEFAULT_GATEWAY_CONFIG, port: 70000 })).toThrow(/port/);
  });
});
