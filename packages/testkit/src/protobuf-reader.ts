/** A protobuf wire-format error: truncated input or an unknown wire type, with the byte offset. */
export class ProtobufDecodeError extends Error {
  override readonly name = 'ProtobufDecodeError';
}

/** One field of a protobuf message as read from the wire (no schema applied). */
export type WireField =
  | { readonly no: number; readonly wire: 0; readonly value: bigint }
  | { readonly no: number; readonly wire: 1; readonly bytes: Uint8Array }
  | { readonly no: number; readonly wire: 2; readonly bytes: Uint8Array }
  | { readonly no: number; readonly wire: 5; readonly bytes: Uint8Array };

function varint(buf: Uint8Array, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i] as number;
    v |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [v, i + 1];
    shift += 7n;
  }
  throw new ProtobufDecodeError(`truncated varint at byte ${at}`);
}

/**
 * Splits one protobuf message into its fields, in wire order (repeated fields appear once per
 * element). Groups (wire types 3, 4) are refused; they are not used by OTLP.
 * @throws ProtobufDecodeError on truncated input or an unsupported wire type.
 */
export function readFields(buf: Uint8Array): WireField[] {
  const out: WireField[] = [];
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = varint(buf, at);
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    at = next;
    if (wire === 0) {
      const [value, after] = varint(buf, at);
      out.push({ no, wire: 0, value });
      at = after;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (at + n > buf.length) throw new ProtobufDecodeError(`truncated fixed${n * 8} field ${no} at byte ${at}`);
      out.push({ no, wire, bytes: buf.subarray(at, at + n) });
      at += n;
    } else if (wire === 2) {
      const [len, after] = varint(buf, at);
      const end = after + Number(len);
      if (end > buf.length) throw new ProtobufDecodeError(`field ${no} of ${len} bytes runs past the end at byte ${after}`);
      out.push({ no, wire: 2, bytes: buf.subarray(after, end) });
      at = end;
    } else {
      throw new ProtobufDecodeError(`unsupported wire type ${wire} (field ${no}) at byte ${at}`);
    }
  }
  return out;
}

/** A fixed64 field as an unsigned integer (little-endian). */
export function fixed64(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
}

/** A fixed64 field as a double. */
export function double64(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
}
