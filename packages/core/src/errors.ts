/** Base class of every error the core throws; `code` is stable and machine-readable. */
export class CoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration value is missing, of the wrong type or out of range. */
export class ConfigError extends CoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config_invalid', message, options);
  }
}

/** A name was looked up in a registry (policies, balancers, profiles, workloads) and is not there. */
export class UnknownNameError extends CoreError {
  readonly known: readonly string[];
  constructor(kind: string, name: string, known: readonly string[]) {
    super('unknown_name', `unknown ${kind} "${name}"; known: ${known.join(', ')}`);
    this.known = known;
  }
}

/** An operation names a program that has no row in the process table (never opened, or ended). */
export class UnknownProgramError extends CoreError {
  constructor(programId: string) {
    super('unknown_program', `no program "${programId}" in the process table`);
  }
}

/** An operation names a call the process table does not hold, or re-submits one it does. */
export class CallStateError extends CoreError {
  constructor(message: string) {
    super('call_state', message);
  }
}
