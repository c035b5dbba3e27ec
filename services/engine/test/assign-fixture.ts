import type { CallAssign } from '@autellix/protocol';

/** An assignment of call `callId` in session `s` (level 0, first attempt, no stream), with `extra` over it. */
export function assignOf(callId: string, promptTokens: number, maxTokens: number, extra: Partial<CallAssign> = {}): CallAssign {
  return {
    type: 'call.assign',
    v: 1,
    engineId: 'sim-0',
    attempt: 0,
    sessionId: 's',
    callId,
    threadId: 'main',
    parents: [],
    promptTokens,
    maxTokens,
    replyTo: '_INBOX.x',
    stream: false,
    level: 0,
    key: 0,
    seq: 0,
    ...extra,
  };
}
