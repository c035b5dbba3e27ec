#!/usr/bin/env -S npx tsx
import { writeTinyLlamaGguf } from './tiny-gguf.ts';

/** Writes the tiny random-weight llama GGUF (see `tiny-gguf.ts`) to the path given. */
const out = process.argv[2];
if (out === undefined || out === '--help') {
  console.log('usage: npm run tiny-model -w @autellix/engine -- OUT.gguf');
  process.exit(out === undefined ? 1 : 0);
}
writeTinyLlamaGguf(out);
console.log(`wrote ${out}`);
