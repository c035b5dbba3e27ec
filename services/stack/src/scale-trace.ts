import type { ProgramSpec } from '@autellix/sim';

/** The trace with every length divided by `scale` (at least one token each). */
export function scaleTrace(programs: readonly ProgramSpec[], scale: number): ProgramSpec[] {
  const s = (n: number): number => Math.max(1, Math.round(n / scale));
  return programs.map((p) => ({
    ...p,
    calls: p.calls.map((c) => ({ ...c, input: s(c.input), output: s(c.output), ...(c.shared === undefined ? {} : { shared: { ...c.shared, tokens: s(c.shared.tokens) } }) })),
  }));
}

/** Longest context a call of the trace needs (its parent chain's context plus its own input and output). */
export function longestContext(programs: readonly ProgramSpec[]): number {
  let most = 0;
  for (const p of programs) {
    const ctx = new Map<string, number>();
    for (const c of p.calls) {
      const first = c.parents[0];
      const offset = first !== undefined ? (ctx.get(first) ?? 0) : (c.shared?.tokens ?? 0);
      const total = offset + c.input + c.output;
      ctx.set(c.id, total);
      if (total > most) most = total;
    }
  }
  return most;
}
