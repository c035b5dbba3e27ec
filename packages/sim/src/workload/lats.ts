import { ConfigError, type Rng } from '@autellix/core';
import { bernoulli, countSampler, exponential, type LognormalSpec, tokenSampler, uniformInt } from './distributions.ts';
import type { BodyGenerator, ProgramBody } from './generators.ts';
import { checkContextBudget, checkNonNegative, checkShared } from './sharegpt.ts';
import type { CallSpec, SharedPrefix } from './types.ts';

/**
 * LATS (Language Agent Tree Search, MCTS on HotpotQA): a tree search with many threads. Paper
 * table: ~160 calls per program, ~467 new prompt tokens and ~73 output tokens per call.
 *
 * Model. A root call `root` (thread `root`), then I iterations (I drawn per program). Iteration t:
 * 1. Select a node: an expansion node (the root or an earlier child) not yet expanded. With
 *    probability `deepenProbability` one of the children of the latest expansion (go deeper),
 *    otherwise any unexpanded node (backtrack); uniform within the chosen set.
 * 2. Expand it with `branching` parallel children `n{t}.{j}` (first parent: the selected node).
 * 3. For each child a value call `v{t}.{j}` (parent: the child) issued after an environment step
 *    (`envDelayMean`), and with probability `reflectProbability` a reflection `r{t}.{j}` (parent:
 *    the value call). A child, its value call and its reflection form thread `n{t}.{j}`.
 * With `iterationBarrier`, the children of iteration t also list every value and reflection
 * call of iteration t-1 as extra parents (after the first): MCTS selects only after the previous
 * evaluation has been backed up, so iterations run one after another and parallelism is within
 * an expansion. Extra parents add no context (context rule: only the first parent's context is
 * extended).
 *
 * Every call draws input/output from the same two distributions (the table reports one mean per
 * call). I is a rounded lognormal with mean (targetCalls - 1) / (branching x (2 +
 * reflectProbability)) clipped so that calls never exceed `maxCalls`. A child whose context or
 * whose value call's context would exceed `maxContext` is dropped with its value and reflection
 * calls; a reflection that would exceed it is dropped alone. Such drops are rare with the
 * defaults and lower the mean calls slightly.
 */
export interface LatsOptions {
  /** Children per expansion, k (integer >= 1). */
  readonly branching: number;
  /** Target mean calls per program (root included), before context drops. */
  readonly targetCalls: number;
  /** Hard cap on calls per program (integer). */
  readonly maxCalls: number;
  /** Log-scale standard deviation of the iteration count (> 0). */
  readonly iterationSigma: number;
  /** Probability that a child gets a reflection call, in [0, 1]. */
  readonly reflectProbability: number;
  /** Probability that selection goes to a child of the latest expansion, in [0, 1]. */
  readonly deepenProbability: number;
  /** New prompt tokens per call, integers. */
  readonly input: LognormalSpec;
  /** Output tokens per call, integers. */
  readonly output: LognormalSpec;
  /** Few-shot prompt of the root, shared by every LATS program; null for none. */
  readonly shared: SharedPrefix | null;
  /** Mean environment step (e.g. a Wikipedia lookup) before each value call, seconds (exponential; 0 = none). */
  readonly envDelayMean: number;
  /** Make each expansion wait for the previous iteration's evaluations (see above). */
  readonly iterationBarrier: boolean;
  /** Largest context (prompt + output) any call may reach, tokens. */
  readonly maxContext: number;
}

export const LATS_DEFAULTS: LatsOptions = {
  branching: 5,
  targetCalls: 160,
  maxCalls: 400,
  iterationSigma: 0.5,
  reflectProbability: 0.1,
  deepenProbability: 0.7,
  input: { mean: 467, sigma: 0.6, min: 1, max: 4096 },
  output: { mean: 73, sigma: 0.7, min: 1, max: 1024 },
  shared: { id: 'lats-fewshot', tokens: 500 },
  envDelayMean: 0.5,
  iterationBarrier: true,
  maxContext: 32768,
};

interface Node {
  readonly id: string;
  /** Context of the node's call: prompt + output, tokens. */
  readonly context: number;
}

function checkProbability(p: number, what: string): void {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`${what} must lie in [0, 1], got ${p}`);
}

/** Validates options (once) and returns a LATS body generator. Throws `ConfigError`. */
export function createLats(options: Partial<LatsOptions> = {}): BodyGenerator {
  const o: LatsOptions = { ...LATS_DEFAULTS, ...options };
  if (!Number.isInteger(o.branching) || o.branching < 1) throw new ConfigError(`lats.branching must be an integer >= 1, got ${o.branching}`);
  checkProbability(o.reflectProbability, 'lats.reflectProbability');
  checkProbability(o.deepenProbability, 'lats.deepenProbability');
  checkShared(o.shared, 'lats');
  checkNonNegative(o.envDelayMean, 'lats.envDelayMean');
  checkContextBudget('lats', o.maxContext, o.shared?.tokens ?? 0, o.input, o.output);
  const perIterationMax = o.branching * (o.reflectProbability > 0 ? 3 : 2);
  const maxIterations = Math.floor((o.maxCalls - 1) / perIterationMax);
  const meanIterations = (o.targetCalls - 1) / (o.branching * (2 + o.reflectProbability));
  if (!Number.isInteger(o.maxCalls) || maxIterations < 2 || !(meanIterations >= 1 && meanIterations < maxIterations)) {
    throw new ConfigError(
      `lats: targetCalls = ${o.targetCalls} needs between 1 and ${maxIterations} iterations on average within maxCalls = ${o.maxCalls}; got ${meanIterations.toFixed(2)}`,
    );
  }
  const model: LatsModel = {
    o,
    iterations: countSampler({ mean: meanIterations, max: maxIterations, sigma: o.iterationSigma }, 'lats.iterations'),
    input: tokenSampler(o.input, 'lats.input'),
    output: tokenSampler(o.output, 'lats.output'),
  };
  return (rng) => latsBody(rng, model);
}

interface LatsModel {
  readonly o: LatsOptions;
  readonly iterations: (rng: Rng) => number;
  readonly input: (rng: Rng) => number;
  readonly output: (rng: Rng) => number;
}

function latsBody(rng: Rng, m: LatsModel): ProgramBody {
  const { o } = m;
  const shared = o.shared;
  const iterations = m.iterations(rng);
  const rootIn = m.input(rng);
  const rootOut = m.output(rng);
  const root: CallSpec = shared
    ? { id: 'root', parents: [], input: rootIn, output: rootOut, delay: 0, shared, thread: 'root' }
    : { id: 'root', parents: [], input: rootIn, output: rootOut, delay: 0, thread: 'root' };
  const calls: CallSpec[] = [root];
  const open: Node[] = [{ id: 'root', context: (shared?.tokens ?? 0) + rootIn + rootOut }];
  let latest: Node[] = [];
  let previousEvals: string[] = [];

  for (let t = 1; t <= iterations && open.length > 0; t++) {
    const deepen = bernoulli(rng, o.deepenProbability) && latest.length > 0;
    const pool = deepen ? latest : open;
    const selected = pool[uniformInt(rng, 0, pool.length - 1)] as Node;
    open.splice(open.indexOf(selected), 1);
    const barrier = o.iterationBarrier ? previousEvals : [];
    const children: Node[] = [];
    const evals: string[] = [];
    for (let j = 0; j < o.branching; j++) {
      // Fixed draw order per child, whether or not it is kept.
      const [cIn, cOut, vIn, vOut] = [m.input(rng), m.output(rng), m.input(rng), m.output(rng)];
      const vDelay = exponential(rng, o.envDelayMean);
      const reflect = bernoulli(rng, o.reflectProbability);
      const [rIn, rOut] = [m.input(rng), m.output(rng)];
      const childCtx = selected.context + cIn + cOut;
      const valueCtx = childCtx + vIn + vOut;
      if (valueCtx > o.maxContext) continue;
      const cid = `n${t}.${j}`;
      const vid = `v${t}.${j}`;
      calls.push({ id: cid, parents: [selected.id, ...barrier], input: cIn, output: cOut, delay: 0, thread: cid });
      calls.push({ id: vid, parents: [cid], input: vIn, output: vOut, delay: vDelay, thread: cid });
      children.push({ id: cid, context: childCtx });
      evals.push(vid);
      if (reflect && valueCtx + rIn + rOut <= o.maxContext) {
        const rid = `r${t}.${j}`;
        calls.push({ id: rid, parents: [vid], input: rIn, output: rOut, delay: 0, thread: cid });
        evals.push(rid);
      }
    }
    open.push(...children);
    latest = children;
    if (evals.length > 0) previousEvals = evals;
  }
  return { kind: 'lats', calls };
}
