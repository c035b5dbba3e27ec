import { uniformInt } from './distributions.ts';
import { createBfcl } from './bfcl.ts';
import type { BodyGenerator, WorkloadOptions } from './generators.ts';
import { createLats } from './lats.ts';
import { createShareGpt } from './sharegpt.ts';

/** The kinds Mixed draws from, in draw order (index 0, 1, 2). */
export const MIXED_KINDS = ['sharegpt', 'bfcl', 'lats'] as const;

/**
 * Mixed: an equal mix of ShareGPT, BFCL and LATS. Each program first draws its kind uniformly
 * (one draw from its own stream: `MIXED_KINDS[uniformInt(rng, 0, 2)]`), then draws its body
 * from the same stream with that kind's generator and options. So kinds are i.i.d. uniform, not
 * round-robin: over n programs each kind's share is 1/3 +- O(1/sqrt(n)). The body's `kind` is the
 * kind drawn, so metrics can be split per kind.
 */
export function createMixed(options: WorkloadOptions = {}): BodyGenerator {
  const generators: readonly BodyGenerator[] = [
    createShareGpt(options.sharegpt),
    createBfcl(options.bfcl),
    createLats(options.lats),
  ];
  return (rng) => {
    const generate = generators[uniformInt(rng, 0, generators.length - 1)] as BodyGenerator;
    return generate(rng);
  };
}
