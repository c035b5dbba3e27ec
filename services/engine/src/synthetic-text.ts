/**
 * Text for simulated tokens: a fixed cycle of words, one word per token, so a result's length
 * in words equals its completion tokens. The `sim` backend models timing, not language.
 */
const WORDS = ['the', 'agent', 'calls', 'a', 'tool', 'and', 'reads', 'its', 'answer', 'then', 'plans', 'again'];

/** `count` words starting at token index `from`, each followed by a space. */
export function syntheticText(from: number, count: number): string {
  let out = '';
  for (let i = 0; i < count; i++) out += `${WORDS[(from + i) % WORDS.length]} `;
  return out;
}
