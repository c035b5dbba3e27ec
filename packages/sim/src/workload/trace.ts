import { ConfigError, CoreError } from '@autellix/core';
import type { CallSpec, ProgramSpec, SharedPrefix } from './types.ts';

/**
 * JSONL traces: one program per line (format and rules in docs/trace-format.md).
 *
 * Decisions: unknown fields are REJECTED (a typo such as "ouput" must not pass silently); blank
 * (whitespace-only) lines are skipped and still counted in line numbers; programs keep file order
 * and their arrivals must be non-decreasing (an out-of-order line is an error, not re-sorted);
 * `kind` defaults to "trace"; `shared` is accepted on any call but only a root's is used.
 */

/** A trace line (1-based; for `serializeTrace`, the 1-based program index) is invalid. */
export class TraceError extends CoreError {
  /** 1-based line number in the trace text. */
  readonly line: number;
  /** What is wrong, without the line prefix. */
  readonly reason: string;
  constructor(line: number, reason: string) {
    super('trace_invalid', `trace line ${line}: ${reason}`);
    this.line = line;
    this.reason = reason;
  }
}

/** Kind given to programs whose line has no `kind`. */
export const DEFAULT_TRACE_KIND = 'trace';

const PROGRAM_KEYS: ReadonlySet<string> = new Set(['id', 'arrival', 'kind', 'calls']);
const CALL_KEYS: ReadonlySet<string> = new Set(['id', 'parents', 'input', 'output', 'delay', 'shared', 'thread']);
const SHARED_KEYS: ReadonlySet<string> = new Set(['id', 'tokens']);

type Json = Record<string, unknown>;

/** Validates one line's JSON value as a program; throws `TraceError` at `line`. */
function toProgram(value: unknown, line: number): ProgramSpec {
  const fail = (reason: string): never => {
    throw new TraceError(line, reason);
  };
  const obj = (v: unknown, where: string, keys: ReadonlySet<string>): Json => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${where} must be a JSON object`);
    for (const k of Object.keys(v)) if (!keys.has(k)) fail(`${where} has unknown field "${k}" (allowed: ${[...keys].join(', ')})`);
    return v as Json;
  };
  const str = (o: Json, key: string, where: string): string => {
    const v = o[key];
    if (v === undefined) return fail(`${where}: missing field "${key}"`);
    if (typeof v !== 'string' || v === '') return fail(`${where}: "${key}" must be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  const tokens = (o: Json, key: string, where: string): number => {
    const v = o[key];
    if (v === undefined) return fail(`${where}: missing field "${key}"`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return fail(`${where}: "${key}" must be an integer >= 1 (tokens), got ${JSON.stringify(v)}`);
    return v;
  };
  const seconds = (o: Json, key: string, where: string): number => {
    const v = o[key];
    if (v === undefined) return fail(`${where}: missing field "${key}"`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return fail(`${where}: "${key}" must be a finite number >= 0 (seconds), got ${JSON.stringify(v)}`);
    return v;
  };

  const p = obj(value, 'program', PROGRAM_KEYS);
  const id = str(p, 'id', 'program');
  const arrival = seconds(p, 'arrival', `program "${id}"`);
  const kind = p['kind'] === undefined ? DEFAULT_TRACE_KIND : str(p, 'kind', `program "${id}"`);
  const rawCalls = p['calls'];
  if (rawCalls === undefined) fail(`program "${id}": missing field "calls"`);
  if (!Array.isArray(rawCalls)) return fail(`program "${id}": "calls" must be an array`);
  if (rawCalls.length === 0) fail(`program "${id}": "calls" must hold at least one call`);

  const index = new Map<string, number>();
  rawCalls.forEach((raw: unknown, i) => {
    const where = `program "${id}" calls[${i}]`;
    const c = obj(raw, where, CALL_KEYS);
    const cid = str(c, 'id', where);
    if (index.has(cid)) fail(`${where}: duplicate call id "${cid}" (also calls[${index.get(cid)}])`);
    index.set(cid, i);
  });
  const ids = [...index.keys()];

  const calls: CallSpec[] = rawCalls.map((raw: unknown, i): CallSpec => {
    const c = raw as Json;
    const cid = ids[i] as string;
    const where = `program "${id}" call "${cid}"`;
    const rawParents = c['parents'];
    if (rawParents === undefined) fail(`${where}: missing field "parents"`);
    if (!Array.isArray(rawParents)) return fail(`${where}: "parents" must be an array of call ids`);
    const parents: string[] = [];
    for (const parent of rawParents as unknown[]) {
      if (typeof parent !== 'string') fail(`${where}: "parents" must hold strings, got ${JSON.stringify(parent)}`);
      const at = index.get(parent as string);
      if (at === undefined) fail(`${where}: parent "${String(parent)}" is not a call of this program`);
      else if (at === i) fail(`${where}: lists itself as a parent`);
      else if (at > i) fail(`${where}: parent "${String(parent)}" appears later in "calls" (parents must be listed first)`);
      if (parents.includes(parent as string)) fail(`${where}: parent "${String(parent)}" listed twice`);
      parents.push(parent as string);
    }
    const input = tokens(c, 'input', where);
    const output = tokens(c, 'output', where);
    const delay = seconds(c, 'delay', where);
    let shared: SharedPrefix | undefined;
    if (c['shared'] !== undefined) {
      const s = obj(c['shared'], `${where} "shared"`, SHARED_KEYS);
      shared = { id: str(s, 'id', `${where} "shared"`), tokens: tokens(s, 'tokens', `${where} "shared"`) };
    }
    const thread = c['thread'] === undefined ? undefined : str(c, 'thread', where);
    const call: CallSpec = { id: cid, parents, input, output, delay };
    return {
      ...call,
      ...(shared === undefined ? {} : { shared }),
      ...(thread === undefined ? {} : { thread }),
    };
  });
  return { id, arrival, kind, calls };
}

/** Checks what holds across lines, one program at a time: unique program ids, non-decreasing arrivals. */
function sequenceChecker(): (p: ProgramSpec, line: number) => void {
  const seen = new Map<string, number>();
  let previous: number | undefined;
  return (p, line) => {
    const first = seen.get(p.id);
    if (first !== undefined) throw new TraceError(line, `duplicate program id "${p.id}" (first on line ${first})`);
    seen.set(p.id, line);
    if (previous !== undefined && p.arrival < previous) {
      throw new TraceError(line, `arrival ${p.arrival} is before the previous program's arrival ${previous} (arrivals must be non-decreasing)`);
    }
    previous = p.arrival;
  };
}

/**
 * Parses a JSONL trace into programs, in file order. Lines are split on "\n" (a trailing "\r"
 * is removed); whitespace-only lines are skipped. Throws `TraceError` naming the first bad line.
 */
export function parseTrace(text: string): ProgramSpec[] {
  const programs: ProgramSpec[] = [];
  const check = sequenceChecker();
  text.split('\n').forEach((raw, i) => {
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      throw new TraceError(i + 1, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    const program = toProgram(value, i + 1);
    check(program, i + 1);
    programs.push(program);
  });
  return programs;
}

/** The JSON object of one program, with fields in the documented order and optional ones omitted. */
function toJson(p: ProgramSpec): Json {
  return {
    id: p.id,
    arrival: p.arrival,
    kind: p.kind,
    calls: p.calls.map((c) => ({
      id: c.id,
      parents: [...c.parents],
      input: c.input,
      output: c.output,
      delay: c.delay,
      ...(c.shared === undefined ? {} : { shared: { id: c.shared.id, tokens: c.shared.tokens } }),
      ...(c.thread === undefined ? {} : { thread: c.thread }),
    })),
  };
}

/**
 * Serializes programs as JSONL (one line each, "\n"-terminated; "" for no programs). The programs
 * are validated by the same rules as `parseTrace` (a `TraceError`'s line is the 1-based program
 * index), so the output always parses back deep-equal.
 */
export function serializeTrace(programs: readonly ProgramSpec[]): string {
  const objects = programs.map(toJson);
  const check = sequenceChecker();
  for (const [i, o] of objects.entries()) check(toProgram(o, i + 1), i + 1);
  return objects.map((o) => `${JSON.stringify(o)}\n`).join('');
}

/**
 * Keeps a trace's relative arrival pattern but rescales it to a mean rate of `rate` programs/s:
 * arrival' = (arrival - first) x (n - 1) / (span x rate), where first/span are the earliest
 * arrival and the range of arrivals, so the first program arrives at 0 and the mean gap between
 * consecutive arrivals is exactly 1 / rate. With fewer than two programs, all arrivals equal, or
 * `rate` = Infinity, every arrival becomes 0. Bodies are shared, not copied. Throws `ConfigError`
 * unless rate > 0.
 */
export function rescaleArrivals(programs: readonly ProgramSpec[], rate: number): ProgramSpec[] {
  if (!(rate > 0)) throw new ConfigError(`rate must be > 0 programs/s, got ${rate}`);
  let first = Infinity;
  let last = -Infinity;
  for (const p of programs) {
    first = Math.min(first, p.arrival);
    last = Math.max(last, p.arrival);
  }
  const span = last - first;
  const degenerate = programs.length < 2 || !(span > 0) || rate === Infinity;
  const factor = degenerate ? 0 : (programs.length - 1) / (span * rate);
  return programs.map((p) => ({ ...p, arrival: degenerate ? 0 : (p.arrival - first) * factor }));
}
