import type { Options } from 'msgpackr';
import { Packr } from 'msgpackr';
import { ErrorCode, ProtocolError } from './errors.ts';

/**
 * The one codec of the protocol: plain MessagePack maps with string keys, no extensions, no
 * records. Integers above 2^53 decode as BigInt and are rejected by validation.
 */
// msgpackr's runtime supports int64AsType 'auto' (safe integers as numbers, larger ones as
// BigInt); its type declarations in 1.12 predate it, hence the widening.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'auto' } as unknown as Options);

/**
 * Encodes a message. Throws `ProtocolError(internal)` when it holds `undefined` anywhere (the
 * wire has no undefined: leave optional fields out instead) or a non-safe integer.
 */
export function encode(message: object): Uint8Array {
  // The fast check builds no paths; only a message that fails it is walked again for the error.
  if (!isWireSafe(message)) assertWireSafe(message, '');
  return packr.pack(message);
}

/** True when `v` holds no undefined, bigint or integer above 2^53 anywhere. */
function isWireSafe(v: unknown): boolean {
  if (v === undefined || typeof v === 'bigint') return false;
  if (typeof v === 'number') return !Number.isInteger(v) || Number.isSafeInteger(v);
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isWireSafe(v[i])) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) if (Object.hasOwn(o, k) && !isWireSafe(o[k])) return false;
  return true;
}

/** Decodes bytes into an untrusted value. Throws `ProtocolError(bad_msgpack)` on malformed input. */
export function decodeRaw(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new ProtocolError(ErrorCode.badMsgpack, 'empty payload');
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new ProtocolError(ErrorCode.badMsgpack, `malformed MessagePack: ${(err as Error).message}`);
  }
}

function assertWireSafe(v: unknown, path: string): void {
  if (v === undefined) throw new ProtocolError(ErrorCode.internal, `undefined at "${path || '.'}" cannot be encoded`, path);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new ProtocolError(ErrorCode.internal, `integer ${v} at "${path}" is above 2^53`, path);
    }
    return;
  }
  if (typeof v === 'bigint') throw new ProtocolError(ErrorCode.internal, `bigint at "${path}" cannot be encoded`, path);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) assertWireSafe(v[i], `${path}[${i}]`);
    return;
  }
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) assertWireSafe(x, path ? `${path}.${k}` : k);
  }
}
