/** What `policyPairs` reads of a row: its policy and round, the measured mean and the under-load prediction's. */
export interface PairedRow {
  readonly policy: string;
  readonly round: number;
  readonly programLatency: { readonly mean: number };
  readonly loadedSim: { readonly programLatency: { readonly mean: number } } | null;
}

/** How often `first` beat `second` over the rounds (see `LlamaBenchResult.pairs`). */
export interface PolicyPair {
  readonly first: string;
  readonly second: string;
  readonly rounds: number;
  readonly measuredFirstFaster: number;
  readonly loadedSimFirstFaster: number | null;
}

/**
 * Every pair of `policies` (in their order) with how often the first had the lower mean, over the
 * rounds (0 to the largest `round` in `rows`): measured, and under-load simulated when `loaded`
 * (null otherwise). A round where either policy has no row counts for neither; a tie counts for
 * neither; a missing simulation (NaN) never wins.
 */
export function policyPairs(policies: readonly string[], rows: readonly PairedRow[], loaded: boolean): PolicyPair[] {
  const out: PolicyPair[] = [];
  const rounds = Math.max(0, ...rows.map((r) => r.round + 1));
  for (const [i, first] of policies.entries()) {
    for (const second of policies.slice(i + 1)) {
      let measured = 0;
      let simulated = 0;
      for (let round = 0; round < rounds; round++) {
        const a = rows.find((r) => r.round === round && r.policy === first);
        const b = rows.find((r) => r.round === round && r.policy === second);
        if (a === undefined || b === undefined) continue;
        if (a.programLatency.mean < b.programLatency.mean) measured += 1;
        if ((a.loadedSim?.programLatency.mean ?? Number.NaN) < (b.loadedSim?.programLatency.mean ?? Number.NaN)) simulated += 1;
      }
      out.push({ first, second, rounds, measuredFirstFaster: measured, loadedSimFirstFaster: loaded ? simulated : null });
    }
  }
  return out;
}
