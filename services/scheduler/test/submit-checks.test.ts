import type { CallSubmit } from '@autellix/protocol';
import { describe, expect, it } from 'vitest';
import { newSession } from '../src/session-table.ts';
import { checkSubmit } from '../src/submit-checks.ts';

const limits = { maxTokens: 100, maxPromptTokens: 1000 };
const msg = (over: Partial<CallSubmit> = {}): CallSubmit => ({
  type: 'call.submit',
  v: 1,
  sessionId: 's',
  callId: 'c2',
  threadId: 't',
  parents: [],
  promptTokens: 10,
  maxTokens: 10,
  replyTo: 'r',
  stream: false,
  ...over,
});

describe('checkSubmit', () => {
  const s = newSession('s', 1000, 0);
  s.finished.set('c1', 7);

  it('accepts a good call whose parent finished', () => {
    expect(checkSubmit(msg({ parents: ['c1'] }), 9, s, limits)).toEqual({ kind: 'accept' });
  });

  it('tells a re-applied message (same stream sequence) from a duplicate id', () => {
    expect(checkSubmit(msg({ callId: 'c1' }), 7, s, limits)).toEqual({ kind: 'reapplied' });
    const v = checkSubmit(msg({ callId: 'c1' }), 8, s, limits);
    expect(v.kind === 'reject' && v.error.code).toBe('duplicate_call');
  });

  it('refuses out-of-range max tokens, long prompts and unknown parents, in that order', () => {
    const code = (m: CallSubmit): string | null => {
      const v = checkSubmit(m, 9, s, limits);
      return v.kind === 'reject' ? v.error.code : null;
    };
    expect(code(msg({ maxTokens: 0 }))).toBe('bad_max_tokens');
    expect(code(msg({ maxTokens: 101 }))).toBe('bad_max_tokens');
    expect(code(msg({ maxTokens: 0, promptTokens: 5000 }))).toBe('bad_max_tokens');
    expect(code(msg({ promptTokens: 1001 }))).toBe('prompt_too_long');
    expect(code(msg({ parents: ['c9'] }))).toBe('unknown_parent');
  });
});
