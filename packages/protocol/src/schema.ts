import { ErrorCode, isErrorCode, ProtocolError } from './errors.ts';

/**
 * A tiny structural schema for decoded messages: enough to reject anything a peer in another
 * language could get wrong (missing fields, wrong types, unsafe integers, unknown enum values,
 * oversize strings and arrays) with the path of the first offending field.
 */
export type Spec =
  | { readonly k: 'id' }
  | { readonly k: 'token' }
  | { readonly k: 'str'; readonly max: number }
  | { readonly k: 'int'; readonly min: number }
  | { readonly k: 'num'; readonly min: number }
  | { readonly k: 'bool' }
  | { readonly k: 'code' }
  | { readonly k: 'enum'; readonly values: readonly string[] }
  | { readonly k: 'arr'; readonly of: Spec; readonly max: number }
  | { readonly k: 'obj'; readonly fields: Fields };

/** Field specs of an object; `optional` fields may be absent (never `nil`). */
export type Fields = Readonly<Record<string, Spec & { readonly optional?: boolean }>>;

/** Identifiers (sessions, calls, threads, engines): 1-128 of `[A-Za-z0-9_.:-]`. */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export const id: Spec = { k: 'id' };
/** Engine ids: one subject token, 1-64 of `[A-Za-z0-9_-]` (they are built into subjects). */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const engineId: Spec = { k: 'token' };
export const str = (max = 1 << 20): Spec => ({ k: 'str', max });
export const int = (min = 0): Spec => ({ k: 'int', min });
export const num = (min = 0): Spec => ({ k: 'num', min });
export const bool: Spec = { k: 'bool' };
export const code: Spec = { k: 'code' };
export const oneOf = (values: readonly string[]): Spec => ({ k: 'enum', values });
export const arr = (of: Spec, max = 4096): Spec => ({ k: 'arr', of, max });
export const obj = (fields: Fields): Spec => ({ k: 'obj', fields });
export const optional = (s: Spec): Spec & { optional: true } => ({ ...s, optional: true });

function fail(path: string, why: string): never {
  throw new ProtocolError(ErrorCode.badField, `field "${path}" ${why}`, path);
}

/** A decoded MessagePack map: a plain object (not an array, bytes, or a decoder sentinel such as 0xC1). */
function isMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A field's path, built only when it is reported: `base` followed by `key` (a field name, or an
 * array index shown as `[i]`), or `base` alone when `key` is null. Checking a valid message
 * therefore builds no strings and no arrays (a heartbeat's `finished` list can hold thousands of
 * ids, and every message is checked).
 */
function pathOf(base: string, key: string | number | null): string {
  if (key === null) return base;
  return typeof key === 'number' ? `${base}[${key}]` : `${base}${key}`;
}

/** Throws `ProtocolError(bad_field)` naming the first field of `v` that does not meet `spec`. */
export function check(spec: Spec, v: unknown, path: string): void {
  checkAt(spec, v, path, null);
}

function checkAt(spec: Spec, v: unknown, base: string, key: string | number | null): void {
  switch (spec.k) {
    case 'id':
      if (typeof v !== 'string') fail(pathOf(base, key), 'must be a string');
      if (!ID_PATTERN.test(v)) fail(pathOf(base, key), 'must be 1-128 characters of [A-Za-z0-9_.:-]');
      return;
    case 'token':
      if (typeof v !== 'string') fail(pathOf(base, key), 'must be a string');
      if (!TOKEN_PATTERN.test(v)) fail(pathOf(base, key), 'must be 1-64 characters of [A-Za-z0-9_-]');
      return;
    case 'str':
      if (typeof v !== 'string') fail(pathOf(base, key), 'must be a string');
      if (v.length > spec.max) fail(pathOf(base, key), `must be at most ${spec.max} characters`);
      return;
    case 'int':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(pathOf(base, key), 'must be an integer below 2^53');
      if (v < spec.min) fail(pathOf(base, key), `must be >= ${spec.min}`);
      return;
    case 'num':
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(pathOf(base, key), 'must be a finite number');
      if (v < spec.min) fail(pathOf(base, key), `must be >= ${spec.min}`);
      return;
    case 'bool':
      if (typeof v !== 'boolean') fail(pathOf(base, key), 'must be a boolean');
      return;
    case 'code':
      if (!isErrorCode(v)) fail(pathOf(base, key), 'must be a known error code');
      return;
    case 'enum':
      if (typeof v !== 'string' || !spec.values.includes(v)) fail(pathOf(base, key), `must be one of ${spec.values.join(', ')}`);
      return;
    case 'arr': {
      if (!Array.isArray(v)) fail(pathOf(base, key), 'must be an array');
      if (v.length > spec.max) fail(pathOf(base, key), `must hold at most ${spec.max} items`);
      if (v.length === 0) return;
      const here = pathOf(base, key);
      for (let i = 0; i < v.length; i++) checkAt(spec.of, v[i], here, i);
      return;
    }
    case 'obj':
      if (!isMap(v)) fail(pathOf(base, key), 'must be a map');
      checkFields(spec.fields, v, `${pathOf(base, key)}.`);
      return;
  }
}

/** Each `Fields` object's entries, listed once (specs are built at load and never change). */
const fieldLists = new WeakMap<Fields, readonly (readonly [string, Spec & { readonly optional?: boolean }])[]>();

function fieldsOf(fields: Fields): readonly (readonly [string, Spec & { readonly optional?: boolean }])[] {
  let list = fieldLists.get(fields);
  if (list === undefined) {
    list = Object.entries(fields);
    fieldLists.set(fields, list);
  }
  return list;
}

/**
 * Checks every declared field of `v` (extra fields are allowed and ignored: forward
 * compatibility), in declaration order; the first failing field is the one reported, its path
 * `prefix` + name.
 */
export function checkFields(fields: Fields, v: Record<string, unknown>, prefix = ''): void {
  for (const [name, spec] of fieldsOf(fields)) {
    const x = v[name];
    if (x === undefined) {
      if (spec.optional) continue;
      fail(`${prefix}${name}`, 'is missing');
    }
    if (x === null) fail(`${prefix}${name}`, 'must not be nil (leave optional fields out)');
    checkAt(spec, x, prefix, name);
  }
}

export { isMap };
