import { double64, fixed64, readFields, type WireField } from './protobuf-reader.ts';

/** An attribute value as OTLP carries it (arrays and key-value lists flattened to JSON text). */
export type OtlpValue = string | number | boolean | bigint | null;

/** One span event. */
export interface OtlpEvent {
  readonly name: string;
  readonly timeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, OtlpValue>>;
}

/** One span, with its resource's `service.name`. Ids are lowercase hex; a root's parent is ''. */
export interface OtlpSpan {
  readonly service: string;
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startUnixNano: bigint;
  readonly endUnixNano: bigint;
  readonly attributes: Readonly<Record<string, OtlpValue>>;
  readonly events: readonly OtlpEvent[];
  /** Spans this one links to (other traces' spans). */
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
}

const text = new TextDecoder();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const str = (f: WireField): string => (f.wire === 2 ? text.decode(f.bytes) : '');

function anyValue(buf: Uint8Array): OtlpValue {
  for (const f of readFields(buf)) {
    if (f.no === 1 && f.wire === 2) return text.decode(f.bytes);
    if (f.no === 2 && f.wire === 0) return f.value !== 0n;
    if (f.no === 3 && f.wire === 0) {
      const v = BigInt.asIntN(64, f.value);
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    if (f.no === 4 && f.wire === 1) return double64(f.bytes);
    if ((f.no === 5 || f.no === 6 || f.no === 7) && f.wire === 2) return hex(f.bytes);
  }
  return null;
}

function attributes(fields: readonly WireField[], no: number): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const f of fields) {
    if (f.no !== no || f.wire !== 2) continue;
    let key = '';
    let value: OtlpValue = null;
    for (const kv of readFields(f.bytes)) {
      if (kv.no === 1) key = str(kv);
      else if (kv.no === 2 && kv.wire === 2) value = anyValue(kv.bytes);
    }
    out[key] = value;
  }
  return out;
}

function event(buf: Uint8Array): OtlpEvent {
  const fields = readFields(buf);
  let name = '';
  let time = 0n;
  for (const f of fields) {
    if (f.no === 1 && f.wire === 1) time = fixed64(f.bytes);
    else if (f.no === 2) name = str(f);
  }
  return { name, timeUnixNano: time, attributes: attributes(fields, 3) };
}

function span(buf: Uint8Array, service: string, scope: string): OtlpSpan {
  const fields = readFields(buf);
  const s = {
    service,
    scope,
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startUnixNano: 0n,
    endUnixNano: 0n,
    attributes: attributes(fields, 9),
    events: [] as OtlpEvent[],
    links: [] as { traceId: string; spanId: string }[],
    statusCode: 0,
    statusMessage: '',
  };
  for (const f of fields) {
    if (f.wire === 2 && f.no === 1) s.traceId = hex(f.bytes);
    else if (f.wire === 2 && f.no === 2) s.spanId = hex(f.bytes);
    else if (f.wire === 2 && f.no === 4) s.parentSpanId = hex(f.bytes);
    else if (f.no === 5) s.name = str(f);
    else if (f.no === 6 && f.wire === 0) s.kind = Number(f.value);
    else if (f.no === 7 && f.wire === 1) s.startUnixNano = fixed64(f.bytes);
    else if (f.no === 8 && f.wire === 1) s.endUnixNano = fixed64(f.bytes);
    else if (f.no === 11 && f.wire === 2) s.events.push(event(f.bytes));
    else if (f.no === 13 && f.wire === 2) {
      const link = { traceId: '', spanId: '' };
      for (const g of readFields(f.bytes)) {
        if (g.no === 1 && g.wire === 2) link.traceId = hex(g.bytes);
        else if (g.no === 2 && g.wire === 2) link.spanId = hex(g.bytes);
      }
      s.links.push(link);
    }
    else if (f.no === 15 && f.wire === 2) {
      for (const g of readFields(f.bytes)) {
        if (g.no === 2) s.statusMessage = str(g);
        else if (g.no === 3 && g.wire === 0) s.statusCode = Number(g.value);
      }
    }
  }
  return s;
}

/**
 * Decodes an OTLP `ExportTraceServiceRequest` (protobuf) into its spans, each tagged with its
 * resource's `service.name` and its scope's name. Field numbers are those of
 * opentelemetry-proto's trace/v1 and common/v1 messages.
 * @throws ProtobufDecodeError when the bytes are not a well-formed message.
 */
export function decodeTraceRequest(buf: Uint8Array): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const rs of readFields(buf)) {
    if (rs.no !== 1 || rs.wire !== 2) continue;
    const rsFields = readFields(rs.bytes);
    let service = '';
    for (const f of rsFields) {
      if (f.no === 1 && f.wire === 2) service = String(attributes(readFields(f.bytes), 1)['service.name'] ?? '');
    }
    for (const ss of rsFields) {
      if (ss.no !== 2 || ss.wire !== 2) continue;
      const ssFields = readFields(ss.bytes);
      let scope = '';
      for (const f of ssFields) {
        if (f.no === 1 && f.wire === 2) {
          for (const g of readFields(f.bytes)) if (g.no === 1) scope = str(g);
        }
      }
      for (const f of ssFields) if (f.no === 2 && f.wire === 2) out.push(span(f.bytes, service, scope));
    }
  }
  return out;
}
