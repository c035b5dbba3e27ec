/** Identifier of a program (an agent session). Unique for the lifetime of the process table. */
export type ProgramId = string;
/** Identifier of one LLM call. Unique within its program. */
export type CallId = string;
/** Identifier of a thread inside a program (a chain of calls). */
export type ThreadId = string;
/** Identifier of an engine replica. */
export type EngineId = string;

/** The key a call is known by across programs: `${programId}/${callId}`. */
export type CallKey = string;

/** Builds the globally unique key of a call. */
export function callKey(programId: ProgramId, callId: CallId): CallKey {
  return `${programId}/${callId}`;
}
