import type { EngineLoad, SchedulerCore } from '@autellix/core';
import { CallPhase, ConfigError, StrictBatchFill } from '@autellix/core';
import type { EngineCall, EngineCallSpec, EngineStats } from './engine-call.ts';
import { EngineCallState } from './engine-call.ts';
import type { EngineOptions } from './engine-options.ts';
import { PreemptionMode, validateEngineOptions } from './engine-options.ts';
import { PrefixCache } from './prefix-cache.ts';
import { RunTable } from './run-table.ts';
import { ScratchList } from './scratch-list.ts';
import type { EngineProfile } from './profile.ts';
import { kvCapacityBlocks, swapInSeconds, swapSeconds } from './profile.ts';
import { stepSeconds } from './step-time.ts';
import type { StepShape } from './types.ts';

/** Longest run of steps simulated as one event. */
const MAX_RUN_STEPS = 4096;

/** Most demoted calls `sortRunning` moves one by one before it sorts the batch instead. */
const MAX_REINSERT = 8;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** True while a running call is still computing its prompt (or, after a recompute, prompt and generated tokens). */
function prefilling(c: EngineCall): boolean {
  return c.computed < c.prefillTarget;
}

function emptyShape(): Mutable<StepShape> {
  return { decodeSeqs: 0, decodeContextTokens: 0, prefillTokens: 0, prefillSeqs: 0, prefillAttentionPairs: 0 };
}

/**
 * A simulated GPU engine: continuous batching over the profile's cost model, driven by the
 * scheduling core's priorities. The caller owns time: `beginStep(now)` plans one step and
 * returns its duration; `endStep(now)` applies it and returns the calls that finished.
 *
 * Batch rule: every `rebuildEverySteps` steps the batch is rebuilt in strict priority order
 * (`StrictBatchFill`); between rebuilds, free slots are refilled from the head of the waiting
 * queue. Within a step, decodes take one token each and prefill chunks share what is left of
 * `maxBatchTokens`, in batch order. If KV runs out inside a step, cache is evicted first, then
 * the lowest-priority running call is preempted by recompute.
 */
export class SimEngine {
  readonly id: string;
  readonly profile: EngineProfile;
  readonly options: EngineOptions;
  readonly cache: PrefixCache;
  readonly capacityBlocks: number;
  readonly stats: EngineStats = {
    steps: 0,
    busySeconds: 0,
    preemptions: 0,
    swapOuts: 0,
    swapIns: 0,
    recomputes: 0,
    prefillTokens: 0,
    decodeTokens: 0,
    batchSeqSum: 0,
    maxWaiting: 0,
    heldSeconds: 0,
    queuedSeconds: 0,
    queuedHeldSeconds: 0,
  };
  private readonly core: SchedulerCore;
  /** In batch order (priority at the last rebuild, then admission order). */
  private running: EngineCall[] = [];
  /** Waiting and swapped calls, best first. */
  private waiting: EngineCall[] = [];
  private ownBlocks = 0;
  private stepsSinceRebuild = Number.POSITIVE_INFINITY;
  private stepSwapSeconds = 0;
  private stepDuration = 0;
  private stepping = false;
  /** True when the batch needs a full re-sort (levels changed from outside). */
  private orderDirty = false;
  /**
   * Running calls whose rank fell (demoted) since the batch was last in order; `sortRunning`
   * moves each to its place, or sorts in full when there are more than `MAX_REINSERT`.
   */
  private readonly moved: EngineCall[] = [];
  /** True when a waiting call changed level since the queue was last sorted. */
  private waitingDirty = false;
  /** True when waits must reach the core (anti-starvation can promote). */
  private readonly tracksStarvation: boolean;
  /**
   * No waiting call can be due for promotion before this time (a lower bound: calls admitted
   * since it was computed may have held it). Rebuilds report waits to the core only once it
   * has passed, so a rebuild costs O(waiting) only when a promotion may be due.
   */
  private earliestPromotion = Number.POSITIVE_INFINITY;
  /** True when `earliestPromotion` must be recomputed (a waiting call's program changed). */
  private promotionStale = false;
  /** Start and length in steps of the step or run in flight. */
  private stepStart = 0;
  private macroSteps = 1;
  /** True when the step in flight was planned as a run (`planRun`): `table` and the calls' run fields hold its plan. */
  private runPlanned = false;
  /** Cumulative totals of the run in flight, step by step. */
  private readonly table = new RunTable(MAX_RUN_STEPS);
  /** The prefilling calls in batch order, as `planStep` left them for `planRun`. */
  private readonly stream = new ScratchList<EngineCall>();
  /** Scratch for `planStep`: the calls whose blocks grow this step. */
  private readonly grow = new ScratchList<EngineCall>();
  /**
   * Decoders by free token slots in their blocks after the first step: `slots[s]` counts those
   * with s slots (1..blockSize), `wideSlots` lists larger counts. A decoder with s slots needs
   * ceil((k - s) / blockSize) more blocks after k steps.
   */
  private readonly slots: Int32Array;
  private readonly wideSlots = new ScratchList<number>();
  /** Fewest tokens any decoder has left to generate, and least quantum any has left (planStep). */
  private seedLeft = 0;
  private seedQuantum = 0;
  /** The first step's shape, and scratch for the run's later steps. */
  private readonly shape: Mutable<StepShape> = emptyShape();
  private readonly runShape: Mutable<StepShape> = emptyShape();
  /** Scratch for `rebuild`: the next batch, and the calls it preempts. */
  private spare: EngineCall[] = [];
  private readonly preempted = new ScratchList<EngineCall>();
  private readonly fill = new StrictBatchFill();
  /** The core's order on engine calls (made once: a closure per use would cost an allocation). */
  private readonly byPriority = (a: EngineCall, b: EngineCall): number => this.core.compare(a.spec.rec, b.spec.rec);
  /** Reused for `endStep`'s result: valid until the next `endStep`. */
  private readonly doneBuffer: EngineCall[] = [];
  /** Calls with work in the current step. */
  private activeCalls = 0;
  /** True when this step's refill stopped at a waiting call it could not admit. */
  private refillBlocked = false;
  /** True when this step preempted a running call for memory. */
  private preemptedThisStep = false;
  /** True when calls were waiting once this step's batch was planned (for `stats.queuedSeconds`). */
  private queuedAtBegin = false;

  constructor(id: string, profile: EngineProfile, options: EngineOptions, core: SchedulerCore) {
    this.id = id;
    this.profile = profile;
    this.options = validateEngineOptions(options);
    this.core = core;
    this.cache = new PrefixCache(profile.blockSize);
    this.tracksStarvation = core.policy.antiStarvation && core.config.starvation.beta !== null;
    this.capacityBlocks = options.ablations.unboundedKv ? Number.POSITIVE_INFINITY : kvCapacityBlocks(profile);
    this.slots = new Int32Array(profile.blockSize + 1);
  }

  /** True while a step is in flight. */
  get busy(): boolean {
    return this.stepping;
  }

  /**
   * The running batch, best first once a step is planned (`beginStep` puts it in priority
   * order). A view for inspection: valid until the engine next changes.
   */
  get batch(): readonly EngineCall[] {
    return this.running;
  }

  /** True when the engine holds no calls. */
  get empty(): boolean {
    return this.running.length === 0 && this.waiting.length === 0;
  }

  /** Load for balancers. */
  load(): EngineLoad {
    const used = this.ownBlocks + this.cache.pinnedBlocks;
    return {
      id: this.id,
      running: this.running.length,
      queued: this.waiting.length,
      kvUsed: Number.isFinite(this.capacityBlocks) ? Math.min(1, used / this.capacityBlocks) : 0,
      prefixCache: this.options.prefixCache,
    };
  }

  /** Takes a call into the waiting queue. Throws `ConfigError` when it can never fit. */
  assign(spec: EngineCallSpec, now: number): EngineCall {
    const total = spec.promptTokens + spec.outputTokens;
    if (total > this.options.maxContextTokens) {
      throw new ConfigError(
        `call ${spec.rec.key} needs ${total} tokens of context, over engine.maxContextTokens = ${this.options.maxContextTokens}`,
      );
    }
    if (this.blocksOf(total) > this.capacityBlocks) {
      throw new ConfigError(`call ${spec.rec.key} needs ${this.blocksOf(total)} KV blocks, over the capacity ${this.capacityBlocks}`);
    }
    const call: EngineCall = {
      spec,
      state: EngineCallState.waiting,
      computed: 0,
      prefillTarget: spec.promptTokens,
      generated: 0,
      hit: 0,
      pins: [],
      ownBlocks: 0,
      chunk: 0,
      decoding: false,
      waitMark: now,
      waitTime: 0,
      execTime: 0,
      swapTime: 0,
      firstTokenAt: Number.NaN,
      runFrom: 0,
      streamAt: -1,
      runDoneAt: 0,
    };
    this.core.setPhase(spec.rec, CallPhase.queued);
    this.insertWaiting(call);
    return call;
  }

  /**
   * Plans the next step at `now` (rebuilding or refilling the batch) and returns its duration
   * in seconds, or null when there is nothing to run (the engine goes idle). With
   * `macroSteps`, the step may be the first of a run of steps simulated as one (`planRun`).
   */
  beginStep(now: number): number | null {
    if (this.stepping) throw new Error(`engine ${this.id}: beginStep while a step is in flight`);
    this.stepSwapSeconds = 0;
    this.refillBlocked = false;
    this.queuedAtBegin = false;
    this.preemptedThisStep = false;
    this.runPlanned = false;
    if (this.waiting.length === 0) {
      // Nothing can join or be preempted: a rebuild would only re-sort the batch.
      if (this.batchUnsorted) this.sortRunning();
      this.stepsSinceRebuild = 0;
    } else if (this.stepsSinceRebuild >= this.options.rebuildEverySteps || this.running.length === 0) {
      this.rebuild(now);
    } else {
      this.refill(now);
    }
    if (this.running.length === 0) return null;
    const shape = this.planStep(now);
    if (this.running.length === 0) return null;
    this.queuedAtBegin = this.waiting.length > 0;
    const constant = this.options.ablations.constantStepSeconds;
    const first = constant !== null ? constant : stepSeconds(this.profile, shape);
    const swap = this.options.ablations.zeroSwapCost ? 0 : this.stepSwapSeconds;
    this.stepStart = now;
    this.macroSteps = 1;
    this.stepDuration = first + swap;
    if (this.options.macroSteps && swap === 0 && (this.options.chunkedPrefill || shape.prefillSeqs === 0)) {
      this.planRun();
    }
    this.stepping = true;
    return this.stepDuration;
  }

  /**
   * Extends the step `planStep` just laid out into a run of steps, simulated as one event, as
   * far as that is exact. Within a run the batch's membership and order stay fixed: decoding
   * calls take one token per step, and the prefilling calls form one stream, in batch order,
   * that each step draws `maxBatchTokens` minus the decodes from (chunked prefill; without it a
   * run holds decodes only). A call whose prompt completes emits its first token at that step's
   * end and decodes from the next, so step shapes change from step to step; each step's time
   * comes from the cost model. The run ends at the first of: a call's last token, the step that
   * uses up a busy call's quantum (a demotion re-sorts the batch), the run's memory growth not
   * fitting (it is halved until it does), `MAX_RUN_STEPS`, and, while calls wait, the next
   * rebuild unless the batch is provably stable (`batchStable`), or the first step ending at or
   * after a waiting call's anti-starvation promotion. `interrupt` can cut it shorter.
   */
  private planRun(): void {
    const o = this.options;
    let limit = MAX_RUN_STEPS;
    let due = Number.POSITIVE_INFINITY;
    if (this.waiting.length > 0) {
      if (!this.batchStable()) limit = Math.min(limit, o.rebuildEverySteps - this.stepsSinceRebuild);
      else if (this.tracksStarvation) due = this.promotionBound();
    }
    if (this.seedLeft < limit) limit = this.seedLeft;
    if (limit <= 1) return;
    const core = this.core;
    const quanta = core.config.queues.quanta;
    const lastLevel = core.policy.demotes ? quanta.length - 1 : 0;
    const share = core.config.serviceUnit === 'share';
    const constant = o.ablations.constantStepSeconds;
    const shape = this.shape;
    let decodeSeqs = shape.decodeSeqs;
    let context = shape.decodeContextTokens;
    // Service from the run's start at which the first busy call uses up its quantum.
    let demoteAt = this.seedQuantum;
    const stream = this.stream.items;
    const streamLength = this.stream.length;
    const table = this.table;
    table.clear();
    let head = 0;
    let drawn = 0;
    let tailGrowth = Number.NaN;
    let dt = 0;
    while (table.length < limit) {
      const j = table.length + 1;
      let prefillTokens = 0;
      let prefillSeqs = 0;
      let pairs = 0;
      let joinSeqs = 0;
      let joinContext = 0;
      let budget = o.maxBatchTokens - decodeSeqs;
      while (head < streamLength && budget > 0) {
        const c = stream[head] as EngineCall;
        const done = drawn - c.streamAt;
        const rem = c.prefillTarget - c.computed - done;
        const chunk = Math.min(rem, budget);
        if (c.runFrom === 0) c.runFrom = j;
        pairs += chunk * (c.computed + done + chunk / 2);
        budget -= chunk;
        drawn += chunk;
        prefillTokens += chunk;
        prefillSeqs += 1;
        if (chunk < rem) break;
        c.runDoneAt = j;
        // No demotion mid-prefill (`addService`): the quantum is first checked at the step that
        // completes the prefill, against the service since the call's first step in the run.
        const rec = c.spec.rec;
        if (rec.level < lastLevel) {
          const at = (table.service[c.runFrom - 1] as number) + (quanta[rec.level] as number) - rec.levelService;
          if (at < demoteAt) demoteAt = at;
        }
        joinSeqs += 1;
        joinContext += c.prefillTarget;
        // The prompt's last chunk emits a token; the call finishes when its output is all out.
        const end = j + c.spec.outputTokens - c.generated - 1;
        if (end < limit) limit = end;
        head += 1;
      }
      if (prefillSeqs > 0 || Number.isNaN(tailGrowth)) {
        const step = this.runShape;
        step.decodeSeqs = decodeSeqs;
        step.decodeContextTokens = context;
        step.prefillTokens = prefillTokens;
        step.prefillSeqs = prefillSeqs;
        step.prefillAttentionPairs = pairs;
        dt = constant !== null ? constant : stepSeconds(this.profile, step);
        if (prefillSeqs === 0 && head >= streamLength) {
          // Decodes only from here on: each step reads decodeSeqs more tokens of context than
          // the one before, and step time is linear in that.
          step.decodeContextTokens = context + decodeSeqs;
          tailGrowth = constant !== null ? 0 : stepSeconds(this.profile, step) - dt;
        }
      } else {
        dt += tailGrowth;
      }
      const busy = decodeSeqs + prefillSeqs;
      table.push(dt, share ? dt / Math.max(1, busy) : dt, prefillTokens, busy);
      if ((table.service[j] as number) >= demoteAt || this.stepStart + (table.seconds[j] as number) >= due) break;
      context += decodeSeqs + joinContext;
      decodeSeqs += joinSeqs;
    }
    // Memory: the run's growth is booked now but the cache is evicted for it only when the run
    // ends (`endStep`), for the steps that actually ran: an interrupted run must not have
    // evicted what a step-by-step engine would have kept. Eviction is in a fixed LRU order
    // nothing in the run changes, so evicting the total at the end leaves the cache as
    // step-by-step would. The calls' own `ownBlocks` keep the first step's value until the
    // run ends (`blocksAt` gives any step's).
    let k = table.length;
    const room = this.freeBlocks() + this.cache.evictableBlocks;
    let extra = this.runGrowth(k);
    while (extra > room && k > 1) {
      k = Math.floor(k / 2);
      extra = this.runGrowth(k);
    }
    if (extra > room) return;
    table.length = k;
    this.ownBlocks += extra;
    this.macroSteps = k;
    this.stepDuration = table.seconds[k] as number;
    this.runPlanned = true;
  }

  /**
   * Blocks the running calls hold after the run's first `k` steps beyond what they held after
   * its first: decoders by their free token slots (`slots`, `wideSlots`), the prefill stream
   * call by call.
   */
  private runGrowth(k: number): number {
    const size = this.profile.blockSize;
    let extra = 0;
    const slots = this.slots;
    for (let s = 1; s < k && s <= size; s++) {
      const n = slots[s] as number;
      if (n > 0) extra += n * Math.ceil((k - s) / size);
    }
    const wide = this.wideSlots;
    for (let i = 0; i < wide.length; i++) {
      const s = wide.items[i] as number;
      if (k > s) extra += Math.ceil((k - s) / size);
    }
    const stream = this.stream;
    for (let i = 0; i < stream.length; i++) {
      const c = stream.items[i] as EngineCall;
      extra += this.blocksAt(c, k) - c.ownBlocks;
    }
    return extra;
  }

  /**
   * Blocks call `c` holds after the first `j` steps of the run in flight, as a step-by-step
   * engine would have reserved them (`ownBlocks` holds the first step's until the run ends).
   */
  private blocksAt(c: EngineCall, j: number): number {
    if (c.decoding) return Math.max(c.ownBlocks, this.blocksOf(c.computed + j - c.hit));
    const from = c.runFrom;
    if (from === 0 || from > j) return c.ownBlocks;
    let end: number;
    if (c.runDoneAt === 0 || c.runDoneAt > j) {
      end = c.computed + Math.min(c.prefillTarget - c.computed, (this.table.prefill[j] as number) - c.streamAt);
    } else {
      end = c.prefillTarget + j - c.runDoneAt;
    }
    return Math.max(c.ownBlocks, this.blocksOf(end - c.hit));
  }

  /**
   * True when the steps after this one provably keep the batch as it is while calls wait: no
   * waiting call outranks its last call (a rebuild would then only refill), refilling already
   * failed this step or the batch is full (within a run, memory and cached prefixes only
   * shrink, so it fails again), and no call was preempted for memory this step. Demotions and
   * anti-starvation promotions, which change ranks, end the run where they fall (`planRun`).
   */
  private batchStable(): boolean {
    const worst = this.running[this.running.length - 1];
    const head = this.waiting[0];
    if (worst === undefined || head === undefined) return true;
    if (this.preemptedThisStep) return false;
    if (!this.refillBlocked && this.running.length < this.options.maxBatchSeqs) return false;
    return this.core.compare(head.spec.rec, worst.spec.rec) >= 0;
  }

  /** Seconds of the first `k` steps of the run in flight (`k` >= 1). */
  private runSeconds(k: number): number {
    return this.runPlanned ? (this.table.seconds[k] as number) : this.stepDuration;
  }

  /**
   * Cuts the run in flight short at the end of the step in progress at `now`, because something
   * arrived that the next step must see. Returns the new end time, or null when the run already
   * ends with that step (or no step is in flight).
   */
  interrupt(now: number): number | null {
    if (!this.stepping || this.macroSteps <= 1) return null;
    const j = this.table.stepEndingBy(this.stepStart, now);
    if (j >= this.macroSteps) return null;
    this.macroSteps = j;
    this.table.length = j;
    this.stepDuration = this.table.seconds[j] as number;
    // Calls give back the blocks reserved for the steps that will not run.
    let sum = 0;
    for (const c of this.running) sum += this.blocksAt(c, j);
    this.ownBlocks = sum;
    return this.stepStart + this.stepDuration;
  }

  /**
   * False only when the call just taken by `assign` provably cannot change what the run of steps
   * in flight does before it ends, so the run need not be cut short (`interrupt`); true otherwise
   * (and whenever no run is in flight). At each step boundary inside a run a step-by-step engine
   * would rebuild or refill; the arrival changes neither when all of these hold: no call was
   * preempted this step and both queues are in order; the policy is not clairvoyant (its keys
   * move with service); the arrival does not outrank the batch's last call (so no rebuild would
   * preempt for it); the batch is full, or refilling failed this step and the arrival is not the
   * queue's head (refill stops at the same head, whose need only grows as decoding eats memory);
   * and its anti-starvation promotion cannot fall due before the run's last internal boundary.
   */
  arrivalChangesRun(c: EngineCall): boolean {
    if (!this.stepping || this.macroSteps <= 1) return true;
    if (this.preemptedThisStep || this.batchUnsorted || this.waitingDirty) return true;
    const core = this.core;
    if (core.policy.clairvoyant) return true;
    const worst = this.running[this.running.length - 1];
    if (worst === undefined || core.compare(c.spec.rec, worst.spec.rec) < 0) return true;
    const full = this.running.length >= this.options.maxBatchSeqs;
    if (!full && !(this.refillBlocked && this.waiting[0] !== c)) return true;
    if (this.tracksStarvation && this.promotionAt(c) <= this.stepStart + this.runSeconds(this.macroSteps - 1)) {
      return true;
    }
    return false;
  }

  /**
   * Tells the engine that calls' levels or FIFO positions were changed from outside (a live
   * scheduler's priority signal): the batch and the queue are re-sorted before the next step.
   */
  priorityChanged(): void {
    this.orderDirty = true;
    this.waitingDirty = true;
  }

  /**
   * Removes a call the engine holds (cancelled, or revoked by the scheduler), freeing its KV
   * and cache pins; what it computed is not donated to the prefix cache. Safe while a step is
   * in flight: the step's time stays as planned and the call gets no more tokens. False when
   * the engine does not hold the call.
   */
  cancel(c: EngineCall): boolean {
    const from = c.state === EngineCallState.running ? this.running : this.waiting;
    const i = from.indexOf(c);
    if (i < 0) return false;
    from.splice(i, 1);
    if (c.chunk > 0 || c.decoding) this.activeCalls = Math.max(0, this.activeCalls - 1);
    c.chunk = 0;
    c.decoding = false;
    // Within a run a call's share of the engine's blocks is what the run booked for it.
    this.ownBlocks -= this.stepping && this.runPlanned ? this.blocksAt(c, this.macroSteps) : c.ownBlocks;
    c.ownBlocks = 0;
    this.cache.release(c.pins);
    c.pins = [];
    c.state = EngineCallState.waiting;
    return true;
  }

  /** Applies the step (or run of steps) begun by `beginStep`; returns the calls that finished, in batch order. */
  endStep(now: number): EngineCall[] {
    if (!this.stepping) throw new Error(`engine ${this.id}: endStep without a step in flight`);
    this.stepping = false;
    const dt = this.stepDuration;
    const k = this.macroSteps;
    if (k > 1) this.trimToCapacity();
    this.stats.steps += k;
    this.stats.busySeconds += dt;
    if (this.waiting.length > this.stats.maxWaiting) this.stats.maxWaiting = this.waiting.length;
    const held = this.running.length * dt;
    this.stats.heldSeconds += held;
    if (this.queuedAtBegin) {
      this.stats.queuedSeconds += dt;
      this.stats.queuedHeldSeconds += held;
    }
    this.stepsSinceRebuild += k;
    const done = this.doneBuffer;
    done.length = 0;
    if (this.runPlanned) this.applyRun(now, done);
    else this.applyStep(now, done);
    for (const c of done) this.finish(c);
    return done;
  }

  /** `endStep` for a single step planned by `planStep` alone (the calls' `chunk` and `decoding`). */
  private applyStep(now: number, done: EngineCall[]): void {
    const dt = this.stepDuration;
    this.stats.batchSeqSum += this.activeCalls;
    const share = this.core.config.serviceUnit === 'share' ? dt / Math.max(1, this.activeCalls) : dt;
    let kept = 0;
    for (const c of this.running) {
      c.execTime += dt;
      if (c.chunk === 0 && !c.decoding) {
        this.running[kept++] = c;
        continue;
      }
      const demoted = this.core.addService(c.spec.rec, share, c.chunk > 0 && c.computed + c.chunk < c.prefillTarget) !== null;
      if (c.chunk > 0) {
        c.computed += c.chunk;
        this.stats.prefillTokens += c.chunk;
        c.chunk = 0;
        if (c.computed >= c.prefillTarget) this.emitToken(c, now, 1);
      } else {
        c.decoding = false;
        c.computed += 1;
        this.emitToken(c, now, 1);
      }
      if (c.generated >= c.spec.outputTokens) done.push(c);
      else {
        this.running[kept++] = c;
        if (demoted) this.moved.push(c);
      }
    }
    this.running.length = kept;
  }

  /** `endStep` for a run planned by `planRun` (the calls' run fields and `table`). */
  private applyRun(now: number, done: EngineCall[]): void {
    const k = this.macroSteps;
    const table = this.table;
    const dt = this.stepDuration;
    this.stats.batchSeqSum += table.busyCalls[k] as number;
    const serviceK = table.service[k] as number;
    const core = this.core;
    let kept = 0;
    for (const c of this.running) {
      c.execTime += dt;
      c.ownBlocks = this.blocksAt(c, k);
      let demoted: boolean;
      if (c.decoding) {
        // Busy from the run's first step.
        c.decoding = false;
        demoted = core.addService(c.spec.rec, serviceK) !== null;
        c.computed += k;
        this.emitToken(c, now, k);
      } else {
        const from = c.runFrom;
        c.runFrom = 0;
        c.chunk = 0;
        if (from === 0 || from > k) {
          this.running[kept++] = c;
          continue;
        }
        const tokens = Math.min(c.prefillTarget - c.computed, (table.prefill[k] as number) - c.streamAt);
        const midPrefill = c.computed + tokens < c.prefillTarget;
        demoted = core.addService(c.spec.rec, serviceK - (table.service[from - 1] as number), midPrefill) !== null;
        c.computed += tokens;
        this.stats.prefillTokens += tokens;
        if (c.computed >= c.prefillTarget) {
          // The prompt's last chunk ran in step runDoneAt and gave the first token; decodes follow.
          const at = c.runDoneAt;
          this.emitToken(c, this.stepStart + (table.seconds[at] as number), 1);
          if (k > at) {
            c.computed += k - at;
            this.emitToken(c, now, k - at);
          }
        }
      }
      if (c.generated >= c.spec.outputTokens) done.push(c);
      else {
        this.running[kept++] = c;
        if (demoted) this.moved.push(c);
      }
    }
    this.running.length = kept;
  }

  private emitToken(c: EngineCall, now: number, tokens: number): void {
    c.generated += tokens;
    this.stats.decodeTokens += tokens;
    if (Number.isNaN(c.firstTokenAt)) c.firstTokenAt = now;
  }

  private finish(c: EngineCall): void {
    this.ownBlocks -= c.ownBlocks;
    c.ownBlocks = 0;
    if (this.options.prefixCache) this.cache.insert(c.spec.segment, c.spec.promptTokens + c.generated);
    this.cache.release(c.pins);
    c.pins = [];
    this.trimToCapacity();
  }

  /**
   * Evicts cache while the engine's own blocks and the cache overshoot capacity: after a
   * donation (block rounding) and at the end of a run of steps (its booked growth).
   */
  private trimToCapacity(): void {
    const over = this.ownBlocks + this.cache.blocks - this.capacityBlocks;
    if (over > 0) this.cache.evict(over);
  }

  private blocksOf(tokens: number): number {
    return Math.ceil(tokens / this.profile.blockSize);
  }

  private freeBlocks(): number {
    return this.capacityBlocks - this.ownBlocks - this.cache.blocks;
  }

  /** Makes `blocks` free, evicting cache if needed. False when even eviction cannot. */
  private reserve(blocks: number): boolean {
    const free = this.freeBlocks();
    if (free >= blocks) return true;
    if (free + this.cache.evictableBlocks < blocks) return false;
    this.cache.evict(blocks - free);
    return this.freeBlocks() >= blocks;
  }

  /** Blocks a candidate needs to run through the next rebuild interval. */
  private blocksNeeded(c: EngineCall): number {
    const growth = this.options.rebuildEverySteps;
    if (c.state === EngineCallState.running) {
      return this.blocksOf(Math.max(c.computed, c.prefillTarget) + growth - c.hit);
    }
    if (c.state === EngineCallState.swapped) return this.blocksOf(c.computed + growth);
    const want = c.spec.promptTokens + c.generated;
    const hit = this.options.prefixCache ? this.cache.peek(c.spec.segment, want) : 0;
    return this.blocksOf(want + growth - hit);
  }

  /**
   * Tells the engine that a call of a program with calls waiting here has completed (on any
   * engine): the program's completed service and wait moved, so its waiting calls' promotion
   * times must be recomputed before they are relied on.
   */
  siblingCompleted(): void {
    this.promotionStale = true;
  }

  /** `earliestPromotion`, recomputed over the waiting calls first when stale. */
  private promotionBound(): number {
    if (this.promotionStale) {
      let due = Number.POSITIVE_INFINITY;
      for (const c of this.waiting) {
        const at = this.promotionAt(c);
        if (at < due) due = at;
      }
      this.earliestPromotion = due;
      this.promotionStale = false;
    }
    return this.earliestPromotion;
  }

  /** When the waiting call `c` would be promoted, its program's totals as they are now. */
  private promotionAt(c: EngineCall): number {
    return c.waitMark + this.core.starvationSlack(c.spec.rec);
  }

  /** Reports the wait since the last report to the core; true when it promoted the call. */
  private reportWait(c: EngineCall, now: number): boolean {
    const w = now - c.waitMark;
    c.waitMark = now;
    if (w <= 0) return false;
    c.waitTime += w;
    return this.core.addWait(c.spec.rec, w) !== null;
  }

  /** True when the batch is not known to be in priority order. */
  private get batchUnsorted(): boolean {
    return this.orderDirty || this.moved.length > 0;
  }

  /**
   * Puts the running batch back in priority order: the demoted calls are moved to their places
   * (the order is total, so this gives exactly what a sort would), or, after an outside change
   * or many demotions, the batch is sorted.
   */
  private sortRunning(): void {
    const moved = this.moved;
    if (this.orderDirty || moved.length > MAX_REINSERT) {
      this.running.sort(this.byPriority);
    } else {
      // All of them out first: the binary search needs the rest of the batch in order.
      let back = 0;
      for (const c of moved) {
        const i = this.running.indexOf(c);
        if (i < 0) continue;
        this.running.splice(i, 1);
        moved[back++] = c;
      }
      for (let i = 0; i < back; i++) this.insertRunning(moved[i] as EngineCall);
    }
    moved.length = 0;
    this.orderDirty = false;
  }

  /** Inserts `c` into the batch, which must be in order, after every call it does not outrank. */
  private insertRunning(c: EngineCall): void {
    const core = this.core;
    const running = this.running;
    const last = running[running.length - 1];
    if (last === undefined || core.compare(last.spec.rec, c.spec.rec) <= 0) {
      running.push(c);
      return;
    }
    let lo = 0;
    let hi = running.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (core.compare((running[mid] as EngineCall).spec.rec, c.spec.rec) <= 0) lo = mid + 1;
      else hi = mid;
    }
    running.splice(lo, 0, c);
  }

  /**
   * Strict-priority rebuild. The running batch and the waiting queue are each kept sorted, so
   * the candidates are their merge; it is walked only as far as the plan can admit (every
   * running call is still visited, to know which to preempt). Waits are reported to the core
   * first when anti-starvation can act on them, and a promotion re-sorts the queue.
   */
  private rebuild(now: number): void {
    this.stepsSinceRebuild = 0;
    if (this.tracksStarvation && now >= this.promotionBound()) {
      // A promotion may be due: every wait reaches the core now (a call's wait is otherwise
      // reported when it is admitted), then the bound is recomputed.
      let promoted = false;
      for (const c of this.waiting) if (this.reportWait(c, now)) promoted = true;
      if (promoted) this.waitingDirty = true;
      this.promotionStale = true;
    }
    const byPriority = this.byPriority;
    if (this.waitingDirty || this.core.policy.clairvoyant) {
      this.waiting.sort(byPriority);
      this.waitingDirty = false;
    }
    if (this.core.policy.clairvoyant) {
      this.running.sort(byPriority);
      this.orderDirty = false;
      this.moved.length = 0;
    } else if (this.batchUnsorted) {
      this.sortRunning();
    }
    const worst = this.running[this.running.length - 1];
    const head = this.waiting[0];
    if (head === undefined) return;
    if (worst !== undefined && byPriority(worst, head) <= 0) {
      // No waiting call outranks a running one: the strict plan keeps the batch and admits
      // from the head while calls fit, which is exactly a refill.
      this.refill(now);
      return;
    }
    // The strict plan (`StrictBatchFill`) over the merge of the two sorted lists, walked as far
    // as it can admit; every running call is still visited, to know which to preempt.
    const fill = this.fill;
    const running = this.running;
    // Calls still computing their prompt stay where they are when the engine cannot preempt
    // them (`preemptDuringPrefill` off): their places and memory are taken before the plan.
    const guard = !this.options.preemptDuringPrefill;
    let guardedSeqs = 0;
    let guardedBlocks = 0;
    if (guard) {
      for (const r of running) {
        if (!prefilling(r)) continue;
        guardedSeqs += 1;
        guardedBlocks += this.blocksNeeded(r);
      }
    }
    fill.reset({ maxSeqs: this.options.maxBatchSeqs - guardedSeqs, blocks: this.capacityBlocks - this.cache.pinnedBlocks - guardedBlocks });
    const waiting = this.waiting;
    const next = this.spare;
    let kept = 0;
    const preempted = this.preempted;
    preempted.clear();
    let admits = 0;
    let i = 0;
    let j = 0;
    while (fill.isOpen && j < waiting.length) {
      const w = waiting[j] as EngineCall;
      // The running calls ranked before w come first: found by binary search (the batch is
      // sorted), so the merge costs a few comparisons per waiting call, not one per running one.
      let lo = i;
      let hi = running.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (byPriority(running[mid] as EngineCall, w) <= 0) lo = mid + 1;
        else hi = mid;
      }
      for (; i < lo; i++) {
        const r = running[i] as EngineCall;
        if ((guard && prefilling(r)) || (fill.isOpen && fill.offer(this.blocksNeeded(r)))) next[kept++] = r;
        else preempted.push(r);
      }
      if (!fill.isOpen) break;
      j += 1;
      if (fill.offer(this.blocksNeeded(w))) admits += 1;
    }
    for (; i < running.length; i++) {
      const r = running[i] as EngineCall;
      if ((guard && prefilling(r)) || (fill.isOpen && fill.offer(this.blocksNeeded(r)))) next[kept++] = r;
      else preempted.push(r);
    }
    if (admits === 0 && preempted.length === 0) return;
    next.length = kept;
    this.spare = running;
    this.running = next;
    // Preempt first: the admitted calls need the memory the preempted ones give back.
    for (let p = 0; p < preempted.length; p++) this.preempt(preempted.items[p] as EngineCall, now);
    // Admitted calls are the head of the sorted queue, in order.
    let admitted = 0;
    while (admitted < admits && this.admit(waiting[admitted] as EngineCall, now)) admitted += 1;
    waiting.splice(0, admitted);
    for (let p = 0; p < preempted.length; p++) this.insertWaiting(preempted.items[p] as EngineCall);
    // The plan is an estimate (cache hits, block rounding): never leave the engine idle while a
    // call could run.
    if (this.running.length === 0) this.refill(now);
  }

  private refill(now: number): void {
    while (this.running.length < this.options.maxBatchSeqs && this.waiting.length > 0) {
      const head = this.waiting[0] as EngineCall;
      if (!this.admit(head, now)) {
        this.refillBlocked = true;
        break;
      }
      this.waiting.shift();
    }
  }

  /** Moves a waiting or swapped call into the batch. False (and no change) when its KV cannot be had. */
  private admit(c: EngineCall, now: number): boolean {
    if (c.state === EngineCallState.swapped) {
      const blocks = this.blocksOf(c.computed);
      if (!this.reserve(blocks)) return false;
      c.ownBlocks = blocks;
      this.ownBlocks += blocks;
      const t = swapInSeconds(this.profile, c.computed);
      this.stepSwapSeconds += t;
      c.swapTime += t;
      this.stats.swapIns += 1;
    } else {
      // The whole prompt's KV is reserved at admission (as vLLM does), so a prefill in
      // progress never runs out of memory; the cached prefix is pinned first so the
      // reservation cannot evict it.
      const want = c.spec.promptTokens + c.generated;
      const acquired = this.options.prefixCache ? this.cache.acquire(c.spec.segment, want) : { hit: 0, pins: [] };
      const blocks = this.blocksOf(want - acquired.hit);
      if (!this.reserve(blocks)) {
        this.cache.cancel(acquired, want);
        return false;
      }
      c.hit = acquired.hit;
      c.pins = acquired.pins;
      c.ownBlocks = blocks;
      this.ownBlocks += blocks;
      c.computed = c.hit;
      c.prefillTarget = want;
    }
    this.reportWait(c, now);
    c.state = EngineCallState.running;
    this.core.setPhase(c.spec.rec, CallPhase.running);
    if (this.moved.length > 0 && !this.orderDirty) this.sortRunning();
    if (this.orderDirty) this.running.push(c);
    else this.insertRunning(c);
    return true;
  }

  private preempt(c: EngineCall, now: number): void {
    this.stats.preemptions += 1;
    this.core.setPhase(c.spec.rec, CallPhase.preempted);
    this.ownBlocks -= c.ownBlocks;
    c.ownBlocks = 0;
    c.chunk = 0;
    const prefilled = c.computed >= c.prefillTarget;
    if (this.options.preemption === PreemptionMode.swap && prefilled) {
      const t = swapSeconds(this.profile, c.computed);
      this.stepSwapSeconds += t;
      c.swapTime += t;
      this.stats.swapOuts += 1;
      c.state = EngineCallState.swapped;
    } else {
      if (this.options.prefixCache) this.cache.insert(c.spec.segment, c.computed);
      this.stats.recomputes += 1;
      c.computed = 0;
      c.state = EngineCallState.waiting;
    }
    this.cache.release(c.pins);
    c.pins = [];
    c.hit = 0;
    c.waitMark = now;
    this.trimToCapacity();
  }

  private insertWaiting(c: EngineCall): void {
    const core = this.core;
    if (this.tracksStarvation) {
      const at = this.promotionAt(c);
      if (at < this.earliestPromotion) this.earliestPromotion = at;
    }
    let lo = 0;
    let hi = this.waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (core.compare((this.waiting[mid] as EngineCall).spec.rec, c.spec.rec) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.waiting.splice(lo, 0, c);
  }

  /**
   * Decides this step's work: decodes first, then prefill chunks in batch order within the token
   * budget (whole prompts in prefill-only steps without chunked prefill). Reserves the KV the
   * step adds, preempting from the back of the batch when even eviction cannot make room.
   * One pass over the batch; it also seeds `planRun` (`stream`, `seedLeft`, `seedQuantum` and
   * the calls' run fields), so a run costs no second pass.
   */
  private planStep(now: number): StepShape {
    if (this.batchUnsorted) this.sortRunning();
    const chunked = this.options.chunkedPrefill;
    const core = this.core;
    const quanta = core.config.queues.quanta;
    const lastLevel = core.policy.demotes ? quanta.length - 1 : 0;
    const prefilling = this.stream;
    const grow = this.grow;
    for (;;) {
      let decodeSeqs = 0;
      let decodeContextTokens = 0;
      let prefillTokens = 0;
      let prefillSeqs = 0;
      let prefillAttentionPairs = 0;
      let newBlocks = 0;
      let left = Number.POSITIVE_INFINITY;
      let quantum = Number.POSITIVE_INFINITY;
      prefilling.clear();
      grow.clear();
      this.slots.fill(0);
      this.wideSlots.clear();
      const size = this.profile.blockSize;
      const slots = this.slots;
      for (const c of this.running) {
        if (c.computed >= c.prefillTarget) {
          c.decoding = true;
          decodeSeqs += 1;
          decodeContextTokens += c.computed;
          // Token slots left in the call's blocks: the decode needs one.
          const free = c.ownBlocks * size - (c.computed - c.hit);
          if (free <= 0) {
            newBlocks += this.blocksOf(c.computed + 1 - c.hit) - c.ownBlocks;
            grow.push(c);
          } else if (free <= size) {
            slots[free] = (slots[free] as number) + 1;
          } else if (free < MAX_RUN_STEPS) {
            this.wideSlots.push(free);
          }
          const out = c.spec.outputTokens - c.generated;
          if (out < left) left = out;
          const rec = c.spec.rec;
          if (rec.level < lastLevel) {
            const q = (quanta[rec.level] as number) - rec.levelService;
            if (q < quantum) quantum = q;
          }
        } else {
          c.decoding = false;
          c.chunk = 0;
          c.runFrom = 0;
          c.runDoneAt = 0;
          prefilling.push(c);
        }
      }
      if (!chunked && prefilling.length > 0 && decodeSeqs > 0) {
        // Without chunked prefill, a step with a prompt in it computes prompts only.
        for (const c of this.running) c.decoding = false;
        decodeSeqs = 0;
        decodeContextTokens = 0;
        newBlocks = 0;
        grow.clear();
        this.slots.fill(0);
        this.wideSlots.clear();
      }
      let budget = this.options.maxBatchTokens - decodeSeqs;
      let streamAt = 0;
      for (let p = 0; p < prefilling.length; p++) {
        const c = prefilling.items[p] as EngineCall;
        const remaining = c.prefillTarget - c.computed;
        c.streamAt = streamAt;
        streamAt += remaining;
        if (chunked) {
          if (budget <= 0) continue;
          c.chunk = Math.min(remaining, budget);
        } else {
          if (prefillSeqs > 0 && remaining > budget) continue;
          c.chunk = remaining;
        }
        budget -= c.chunk;
        prefillTokens += c.chunk;
        prefillSeqs += 1;
        prefillAttentionPairs += c.chunk * (c.computed + c.chunk / 2);
        const blocks = this.blocksOf(c.computed + c.chunk - c.hit);
        if (blocks > c.ownBlocks) {
          newBlocks += blocks - c.ownBlocks;
          grow.push(c);
        }
      }
      // A decoder's run fields are unused: `decoding` marks it as busy from the run's first step.
      if (this.reserve(newBlocks)) {
        this.ownBlocks += newBlocks;
        this.activeCalls = decodeSeqs + prefillSeqs;
        for (let g = 0; g < grow.length; g++) {
          const c = grow.items[g] as EngineCall;
          const end = c.chunk > 0 ? c.computed + c.chunk : c.computed + 1;
          c.ownBlocks = this.blocksOf(end - c.hit);
          if (c.decoding) this.noteSlots(c);
        }
        this.seedLeft = left;
        this.seedQuantum = quantum;
        const shape = this.shape;
        shape.decodeSeqs = decodeSeqs;
        shape.decodeContextTokens = decodeContextTokens;
        shape.prefillTokens = prefillTokens;
        shape.prefillSeqs = prefillSeqs;
        shape.prefillAttentionPairs = prefillAttentionPairs;
        return shape;
      }
      const victim = this.running.pop() as EngineCall;
      this.preemptForMemory(victim, now);
      if (this.running.length === 0) {
        const shape = this.shape;
        shape.decodeSeqs = 0;
        shape.decodeContextTokens = 0;
        shape.prefillTokens = 0;
        shape.prefillSeqs = 0;
        shape.prefillAttentionPairs = 0;
        return shape;
      }
    }
  }

  /** Counts decoder `c`'s free token slots (see `slots`); at least 1 once its step is reserved. */
  private noteSlots(c: EngineCall): void {
    const free = c.ownBlocks * this.profile.blockSize - (c.computed - c.hit);
    if (free <= this.profile.blockSize) this.slots[free] = (this.slots[free] as number) + 1;
    else if (free < MAX_RUN_STEPS) this.wideSlots.push(free);
  }

  private preemptForMemory(c: EngineCall, now: number): void {
    this.preemptedThisStep = true;
    this.preempt(c, now);
    this.insertWaiting(c);
  }
}
