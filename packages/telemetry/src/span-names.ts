/**
 * Span, event and attribute names of autellix traces (documented in docs/operations.md).
 * Attributes are namespaced `autellix.*`; times are seconds unless the name says otherwise.
 */
export const SpanName = {
  /** A program session, from open to close (client: the root; scheduler: its record of it). */
  program: 'program',
  /** One LLM call as the client sees it, submit to result. */
  clientCall: 'call',
  /** One call in the scheduler, accepted to outcome. */
  schedulerCall: 'schedule call',
  /** One placement of a call on an engine, assignment to result. */
  engineCall: 'engine call',
} as const;

export const SpanEvent = {
  queued: 'queued',
  assigned: 'assigned',
  started: 'started',
  preempted: 'preempted',
  resumed: 'resumed',
  firstToken: 'first token',
  done: 'done',
  demoted: 'demoted',
  promoted: 'promoted',
  reassigned: 'reassigned',
} as const;

export const Attr = {
  programId: 'autellix.program.id',
  programClass: 'autellix.program.class',
  threadId: 'autellix.thread.id',
  callId: 'autellix.call.id',
  engineId: 'autellix.engine.id',
  attempt: 'autellix.attempt',
  levelStart: 'autellix.level.start',
  levelEnd: 'autellix.level.end',
  level: 'autellix.level',
  levelFrom: 'autellix.level.from',
  service: 'autellix.service',
  wait: 'autellix.wait',
  promptTokens: 'autellix.tokens.prompt',
  maxTokens: 'autellix.tokens.max',
  completionTokens: 'autellix.tokens.completion',
  cachedTokens: 'autellix.tokens.cached',
  preemptions: 'autellix.preemptions',
  promotions: 'autellix.promotions',
  outcome: 'autellix.outcome',
  callsCompleted: 'autellix.calls.completed',
  endReason: 'autellix.end.reason',
} as const;
