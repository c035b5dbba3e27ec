/**
 * Seeded pseudo-random numbers. The core never calls `Math.random`; whoever needs randomness
 * is handed an `Rng`, so every run is replayable from its seed.
 */
export interface Rng {
  /** A uniform float in [0, 1). */
  next(): number;
}

/**
 * Creates a deterministic generator (mulberry32 over a 32-bit state derived from `seed`).
 * Equal seeds give equal sequences on every platform.
 */
export function createRng(seed: number): Rng {
  let state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  return {
    next(): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Derives an independent stream from `rng` and a label, so adding draws to one stream leaves others unchanged. */
export function forkRng(seed: number, label: string): Rng {
  let h = 2166136261 >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return createRng((seed * 2654435761) ^ h);
}
