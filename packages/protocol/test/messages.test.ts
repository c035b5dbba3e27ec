import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { ProtocolError } from '../src/index.ts';
import { decodeMessage, encode, encodeMessage, ErrorCode, errorMessage, pickCallBody, salvageRefs, subjects } from '../src/index.ts';

const plain = new Packr({ useRecords: false, mapsAsObjects: true });

const submit = {
  type: 'call.submit' as const,
  sessionId: 's-1',
  callId: 'c-1',
  threadId: 't-0',
  parents: [],
  promptTokens: 120,
  maxTokens: 64,
  replyTo: '_INBOX.abc',
  stream: true,
};

function codeOf(f: () => unknown): { code: string; field: string | null } {
  try {
    f();
  } catch (e) {
    const pe = e as ProtocolError;
    return { code: pe.code, field: pe.field };
  }
  throw new Error('expected a ProtocolError');
}

describe('protocol messages', () => {
  it('round-trips a call.submit with its version', () => {
    const bytes = encodeMessage<'call.submit'>(submit);
    const m = decodeMessage(bytes, ['call.submit']);
    expect(m).toEqual({ ...submit, v: 1 });
  });

  it('decodes a message written by another encoder (plain msgpack, no records)', () => {
    const bytes = plain.pack({ ...submit, v: 1, prefix: { id: 'sys', tokens: 512 } });
    expect(decodeMessage(bytes, ['call.submit']).prefix).toEqual({ id: 'sys', tokens: 512 });
  });

  it('rejects malformed msgpack', () => {
    expect(codeOf(() => decodeMessage(new Uint8Array([0xc1]), ['call.submit'])).code).toBe(ErrorCode.badMsgpack);
    expect(codeOf(() => decodeMessage(new Uint8Array([0x82, 0xa1]), ['call.submit'])).code).toBe(ErrorCode.badMsgpack);
    expect(codeOf(() => decodeMessage(new Uint8Array(), ['call.submit'])).code).toBe(ErrorCode.badMsgpack);
    expect(codeOf(() => decodeMessage(plain.pack([1, 2]), ['call.submit'])).code).toBe(ErrorCode.badMsgpack);
  });

  it('rejects unknown types, types the receiver does not take, and other versions', () => {
    expect(codeOf(() => decodeMessage(plain.pack({ type: 'call.teleport', v: 1 }), ['call.submit'])).code).toBe(
      ErrorCode.unknownType,
    );
    expect(codeOf(() => decodeMessage(encodeMessage<'call.cancel'>({ type: 'call.cancel', sessionId: 's', callId: 'c' }), ['call.submit'])).code).toBe(
      ErrorCode.unknownType,
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 2 }), ['call.submit']))).toEqual({
      code: ErrorCode.unknownType,
      field: 'v',
    });
  });

  it('names the first missing or mistyped field', () => {
    const { promptTokens: _, ...noPrompt } = submit;
    expect(codeOf(() => decodeMessage(plain.pack({ ...noPrompt, v: 1 }), ['call.submit']))).toEqual({
      code: ErrorCode.badField,
      field: 'promptTokens',
    });
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, promptTokens: '12' }), ['call.submit'])).field).toBe(
      'promptTokens',
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, promptTokens: 1.5 }), ['call.submit'])).field).toBe(
      'promptTokens',
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, sessionId: 'a b' }), ['call.submit'])).field).toBe(
      'sessionId',
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, parents: ['ok', 7] }), ['call.submit'])).field).toBe(
      'parents[1]',
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, prefix: { id: 'x' } }), ['call.submit'])).field).toBe(
      'prefix.tokens',
    );
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, prompt: null }), ['call.submit'])).field).toBe('prompt');
    const messages = [
      { role: 'user', content: 'hi' },
      { role: 'user', content: 5 },
    ];
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, messages }), ['call.submit'])).field).toBe('messages[1].content');
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, messages: [{ role: 'robot', content: '' }] }), ['call.submit'])).field).toBe(
      'messages[0].role',
    );
    const ancestry = [
      { callId: 'a', end: 10 },
      { callId: 'b', end: 0 },
    ];
    expect(codeOf(() => decodeMessage(plain.pack({ ...submit, v: 1, ancestry }), ['call.submit'])).field).toBe('ancestry[1].end');
    expect(decodeMessage(plain.pack({ ...submit, v: 1, ancestry: [{ callId: 'a', end: 10 }] }), ['call.submit']).ancestry).toEqual([{ callId: 'a', end: 10 }]);
  });

  it('rejects integers above 2^53 on decode and refuses to encode them', () => {
    const big = plain.pack({ ...submit, v: 1, promptTokens: 2n ** 60n });
    expect(codeOf(() => decodeMessage(big, ['call.submit'])).field).toBe('promptTokens');
    expect(codeOf(() => encode({ a: 2 ** 60 })).code).toBe(ErrorCode.internal);
    expect(codeOf(() => encode({ a: undefined })).code).toBe(ErrorCode.internal);
  });

  it('salvages the reply subject and ids from an invalid message, never throwing', () => {
    expect(salvageRefs(plain.pack({ type: 'call.submit', replyTo: 'r.1', sessionId: 's', callId: 7 }))).toEqual({
      type: 'call.submit',
      replyTo: 'r.1',
      sessionId: 's',
    });
    expect(salvageRefs(new Uint8Array([0xc1]))).toEqual({});
  });

  it('builds error messages that validate', () => {
    const bytes = encodeMessage(errorMessage(new Error('boom'), { sessionId: 's', callId: 'bad id' }));
    const m = decodeMessage(bytes, ['error']);
    expect(m.code).toBe(ErrorCode.internal);
    expect(m.sessionId).toBe('s');
    expect(m.callId).toBeUndefined();
  });

  it('requires engine ids to be one subject token', () => {
    const hb = { type: 'engine.heartbeat', v: 1, engineId: 'e.1', backend: 'sim', running: 0, queued: 0, kvUsed: 0, maxBatch: 1, deadAfterMs: 1, calls: [] };
    expect(codeOf(() => decodeMessage(plain.pack(hb), ['engine.heartbeat'])).field).toBe('engineId');
    expect(decodeMessage(plain.pack({ ...hb, engineId: 'e-1' }), ['engine.heartbeat']).engineId).toBe('e-1');
  });

  it('takes a heartbeat with or without prefixCache, and refuses one that is not a boolean', () => {
    const hb = { type: 'engine.heartbeat', v: 1, engineId: 'e-1', backend: 'llama', running: 0, queued: 0, kvUsed: 0, maxBatch: 4, deadAfterMs: 1000, calls: [] };
    expect(decodeMessage(plain.pack(hb), ['engine.heartbeat']).prefixCache).toBeUndefined();
    expect(decodeMessage(plain.pack({ ...hb, prefixCache: false }), ['engine.heartbeat']).prefixCache).toBe(false);
    expect(codeOf(() => decodeMessage(plain.pack({ ...hb, prefixCache: 'no' }), ['engine.heartbeat'])).field).toBe('prefixCache');
  });

  it('picks only the call fields of a message', () => {
    const m = decodeMessage(plain.pack({ ...submit, v: 1, extra: 2n ** 60n, prefix: { id: 'p', tokens: 3, junk: 1 } }), ['call.submit']);
    const body = pickCallBody(m);
    expect(body).toEqual({ ...submit, type: undefined, prefix: { id: 'p', tokens: 3 } } as unknown as typeof body);
    expect(() => encode(body)).not.toThrow();
  });

  it('builds subjects from a prefix and refuses engine ids that are not one token', () => {
    expect(subjects.engineAssign('e-1')).toBe('autellix.engine.e-1.assign');
    expect(subjects.intake('call', 'x')).toBe('x.intake.call');
    expect(() => subjects.engineControl('a.b')).toThrow(/subject token/);
  });
});
