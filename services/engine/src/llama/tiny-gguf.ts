import { writeFileSync } from 'node:fs';
import type { ModelSpec } from '@autellix/engine-model';

/** Shape of a tiny llama-architecture model. */
export interface TinyLlamaSpec {
  readonly embedding: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly feedForward: number;
  /** Trained context length the file declares (the runtime context may be smaller). */
  readonly contextLength: number;
  /** Seed of the weights (a linear congruential generator; same seed, same bytes). */
  readonly seed: number;
}

/** A few hundred kilobytes: loads in milliseconds, a decode step well under a millisecond on one core. */
export const TINY_LLAMA: TinyLlamaSpec = { embedding: 64, layers: 2, heads: 4, kvHeads: 4, feedForward: 128, contextLength: 4096, seed: 1 };

/** GGUF metadata value types (GGUF v3). */
const GgufType = { u32: 4, i32: 5, f32: 6, string: 8, array: 9 } as const;
/** GGML tensor type F32. */
const GGML_F32 = 0;
const ALIGNMENT = 32;

type Scalar = { type: 'u32' | 'i32' | 'f32'; value: number } | { type: 'string'; value: string };
type Value = Scalar | { type: 'array'; of: 'i32' | 'f32' | 'string'; values: readonly (number | string)[] };

/** Little-endian byte builder. */
class Bytes {
  private readonly parts: Buffer[] = [];
  size = 0;
  put(b: Buffer): void {
    this.parts.push(b);
    this.size += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.put(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.put(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.put(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.put(b);
  }
  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.put(b);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.size % alignment)) % alignment;
    if (pad > 0) this.put(Buffer.alloc(pad));
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function writeScalar(out: Bytes, type: 'u32' | 'i32' | 'f32' | 'string', v: number | string): void {
  if (type === 'string') out.string(v as string);
  else out[type](v as number);
}

/**
 * The vocabulary: `<unk>`, `<s>`, `</s>`, the SentencePiece space `▁`, and the 256 byte tokens
 * `<0x00>`..`<0xFF>`, so any text tokenizes (by byte fallback) and detokenizes back.
 */
function vocabulary(): { tokens: string[]; types: number[]; scores: number[] } {
  const tokens = ['<unk>', '<s>', '</s>', '\u2581'];
  const types = [2, 3, 3, 1]; // unknown, control, control, normal
  for (let i = 0; i < 256; i++) {
    tokens.push(`<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6); // byte
  }
  return { tokens, types, scores: tokens.map(() => 0) };
}

/**
 * The bytes of a GGUF v3 file holding a llama-architecture model with random F32 weights (norms
 * are ones) and a byte-level SentencePiece vocabulary. Its output is nonsense; its compute per
 * token is a real transformer's, so timing measured on it is real. Deterministic in `spec`.
 */
export function tinyLlamaGguf(spec: TinyLlamaSpec = TINY_LLAMA): Buffer {
  const { embedding: d, layers, heads, kvHeads, feedForward: ff } = spec;
  if (d % heads !== 0 || heads % kvHeads !== 0) throw new Error('embedding must divide by heads, and heads by kvHeads');
  const vocab = vocabulary();
  const nVocab = vocab.tokens.length;
  const kvDim = (d / heads) * kvHeads;
  const meta: [string, Value][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'autellix-tiny-random' }],
    ['llama.context_length', { type: 'u32', value: spec.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: d }],
    ['llama.block_count', { type: 'u32', value: layers }],
    ['llama.feed_forward_length', { type: 'u32', value: ff }],
    ['llama.attention.head_count', { type: 'u32', value: heads }],
    ['llama.attention.head_count_kv', { type: 'u32', value: kvHeads }],
    ['llama.rope.dimension_count', { type: 'u32', value: d / heads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', values: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', of: 'f32', values: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', values: vocab.types }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
  ];
  const tensors: { name: string; dims: number[] }[] = [
    { name: 'token_embd.weight', dims: [d, nVocab] },
    { name: 'output_norm.weight', dims: [d] },
    { name: 'output.weight', dims: [d, nVocab] },
  ];
  for (let l = 0; l < layers; l++) {
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [d] },
      { name: `blk.${l}.attn_q.weight`, dims: [d, d] },
      { name: `blk.${l}.attn_k.weight`, dims: [d, kvDim] },
      { name: `blk.${l}.attn_v.weight`, dims: [d, kvDim] },
      { name: `blk.${l}.attn_output.weight`, dims: [d, d] },
      { name: `blk.${l}.ffn_norm.weight`, dims: [d] },
      { name: `blk.${l}.ffn_gate.weight`, dims: [d, ff] },
      { name: `blk.${l}.ffn_up.weight`, dims: [d, ff] },
      { name: `blk.${l}.ffn_down.weight`, dims: [ff, d] },
    );
  }
  const out = new Bytes();
  out.put(Buffer.from('GGUF'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(meta.length);
  for (const [key, v] of meta) {
    out.string(key);
    out.u32(GgufType[v.type]);
    if (v.type === 'array') {
      out.u32(GgufType[v.of]);
      out.u64(v.values.length);
      for (const x of v.values) writeScalar(out, v.of, x);
    } else {
      writeScalar(out, v.type, v.value);
    }
  }
  const padded = (n: number): number => Math.ceil((n * 4) / ALIGNMENT) * ALIGNMENT;
  let offset = 0;
  for (const t of tensors) {
    out.string(t.name);
    out.u32(t.dims.length);
    for (const dim of t.dims) out.u64(dim);
    out.u32(GGML_F32);
    out.u64(offset);
    offset += padded(t.dims.reduce((a, b) => a * b, 1));
  }
  out.padTo(ALIGNMENT);
  let state = spec.seed >>> 0 || 1;
  const random = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 0x100000000 - 0.5;
  };
  for (const t of tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    const b = Buffer.alloc(padded(n));
    const norm = t.name.endsWith('norm.weight');
    for (let i = 0; i < n; i++) b.writeFloatLE(norm ? 1 : random() * 0.2, i * 4);
    out.put(b);
  }
  return out.concat();
}

/** Writes `tinyLlamaGguf(spec)` to `path`. */
export function writeTinyLlamaGguf(path: string, spec: TinyLlamaSpec = TINY_LLAMA): void {
  writeFileSync(path, tinyLlamaGguf(spec));
}

/**
 * The tiny model as the engine model sees it (`ModelSpec`): its shapes, its 260-token vocabulary,
 * untied embedding and LM head, and `dtypeBytes` 2 because llama.cpp keeps the KV cache in f16
 * (the weights are f32, but the step-time fit prices them through its fitted terms).
 */
export function tinyLlamaModelSpec(spec: TinyLlamaSpec = TINY_LLAMA): ModelSpec {
  const { embedding: d, layers, heads, kvHeads, feedForward: ff } = spec;
  const vocab = vocabulary().tokens.length;
  const headDim = d / heads;
  const perLayer = d * (d + 2 * kvHeads * headDim) + d * d + 3 * d * ff + 2 * d;
  return {
    name: `tiny-llama-${d}x${layers}`,
    params: 2 * vocab * d + layers * perLayer + d,
    layers,
    hidden: d,
    heads,
    kvHeads,
    headDim,
    intermediate: ff,
    vocab,
    dtypeBytes: 2,
  };
}
