import type { BatchCandidate, EngineLoad, SchedulerCore } from '@autellix/core';
import { CallPhase, ConfigError, rebuildBatch } from '@autellix/core';
import type { EngineCall, EngineCallSpec, EngineStats } from './engine-call.ts';
import { EngineCallState } from './engine-call.ts';
import type { EngineOptions } from './engine-options.ts';
import { PreemptionMode, validateEngineOptions } from './engine-options.ts';
import { PrefixCache } from './prefix-cache.ts';
import type { EngineProfile } from './profile.ts';
import { kvCapacityBlocks, swapSeconds } from './profile.ts';
import { stepSeconds } from './step-time.ts';
import type { StepShape } from './types.ts';

/** Longest run of identical steps simulated as one event. */
const MAX_RUN_STEPS = 4096;

/**
 * A simulated GPU engine: continuous batching over the profile's cost model, driven by the
 * scheduling core's priorities. The caller owns time: `beginStep(now)` plans one step and
 * returns its duration; `endStep(now)` applies it and returns the calls that finished.
 *
 * Batch rule: every `rebuildEverySteps` steps the batch is rebuilt in strict priority order
 * (`rebuildBatch`); between rebuilds, free slots are refilled from the head of the waiting
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
  /** True when a running call changed level since the batch was last sorted. */
  private orderDirty = false;
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
  /** Start, length in steps, first step time and per-step growth of the run in flight. */
  private stepStart = 0;
  private macroSteps = 1;
  private firstStepSeconds = 0;
  private stepGrowthSeconds = 0;
  /** Reused for `endStep`'s result: valid until the next `endStep`. */
  private readonly doneBuffer: EngineCall[] = [];
  /** Calls with work in the current step. */
  private activeCalls = 0;
  /** True when this step's refill stopped at a waiting call it could not admit. */
  private refillBlocked = false;
  /** True when this step preempted a running call for memory. */
  private preemptedThisStep = false;

  constructor(id: string, profile: EngineProfile, options: EngineOptions, core: SchedulerCore) {
    this.id = id;
    this.profile = profile;
    this.options = validateEngineOptions(options);
    this.core = core;
    this.cache = new PrefixCache(profile.blockSize);
    this.tracksStarvation = core.policy.antiStarvation && core.config.starvation.beta !== null;
    this.capacityBlocks = options.ablations.unboundedKv ? Number.POSITIVE_INFINITY : kvCapacityBlocks(profile);
  }

  /** True while a step is in flight. */
  get busy(): boolean {
    return this.stepping;
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
    };
    this.core.setPhase(spec.rec, CallPhase.queued);
    this.insertWaiting(call);
    return call;
  }

  /**
   * Plans the next step at `now` (rebuilding or refilling the batch) and returns its duration
   * in seconds, or null when there is nothing to run (the engine goes idle).
   */
  beginStep(now: number): number | null {
    if (this.stepping) throw new Error(`engine ${this.id}: beginStep while a step is in flight`);
    this.stepSwapSeconds = 0;
    this.refillBlocked = false;
    this.preemptedThisStep = false;
    if (this.waiting.length === 0) {
      // Nothing can join or be preempted: a rebuild would only re-sort the batch.
      if (this.orderDirty) this.sortRunning();
      this.stepsSinceRebuild = 0;
    } else if (this.stepsSinceRebuild >= this.options.rebuildEverySteps || this.running.length === 0) {
      this.rebuild(now);
    } else {
      this.refill(now);
    }
    if (this.running.length === 0) return null;
    const shape = this.planStep(now);
    if (this.running.length === 0) return null;
    const constant = this.options.ablations.constantStepSeconds;
    const first = constant !== null ? constant : stepSeconds(this.profile, shape);
    const swap = this.options.ablations.zeroSwapCost ? 0 : this.stepSwapSeconds;
    this.stepStart = now;
    this.macroSteps = 1;
    this.firstStepSeconds = first + swap;
    this.stepGrowthSeconds = 0;
    if (this.options.macroSteps && swap === 0) this.extendRun(shape, first);
    this.stepDuration = this.runSeconds(this.macroSteps);
    this.stepping = true;
    return this.stepDuration;
  }

  /**
   * Turns a step into a run of identical steps where that is exact. Two shapes repeat: a pure
   * decode step, and (with chunked prefill) decodes plus one call's prefill chunk that fills the
   * rest of the token budget, while that call has at least one more such chunk to go. The
   * batch cannot change before its first completion, the prefilling call's last full chunk, an
   * `interrupt`, or (while calls wait) the end of `stableSteps`. Each step reads D more context
   * tokens (and the chunk attends to one chunk more) than the one before, and step time is
   * linear in both, so step i takes first + i * growth.
   */
  private extendRun(shape: StepShape, first: number): void {
    let k = MAX_RUN_STEPS;
    let filler: EngineCall | null = null;
    if (shape.prefillSeqs > 0) {
      if (!this.options.chunkedPrefill || shape.prefillSeqs !== 1) return;
      if (shape.prefillTokens !== this.options.maxBatchTokens - shape.decodeSeqs) return;
      for (const c of this.running) if (c.chunk > 0) filler = c;
      if (filler === null) return;
      k = Math.floor((filler.prefillTarget - filler.computed) / filler.chunk);
    }
    for (const c of this.running) {
      if (!c.decoding) continue;
      const left = c.spec.outputTokens - c.generated;
      if (left < k) k = left;
    }
    if (!(k > 1)) return;
    const constant = this.options.ablations.constantStepSeconds;
    if (constant === null) {
      const chunk = filler === null ? 0 : filler.chunk;
      const next: StepShape = {
        ...shape,
        decodeContextTokens: shape.decodeContextTokens + shape.decodeSeqs,
        prefillAttentionPairs: shape.prefillAttentionPairs + chunk * chunk,
      };
      this.stepGrowthSeconds = stepSeconds(this.profile, next) - first;
    }
    // A demotion takes effect at the step that uses up the quantum (it re-sorts the batch, may
    // let a waiting call outrank the demoted one, and restarts the level's service count), so
    // the run stops there.
    k = this.beforeDemotion(k);
    if (this.waiting.length > 0) k = this.stableSteps(k);
    if (!(k > 1)) return;
    let extra = 0;
    for (const c of this.running) {
      if (!c.decoding) continue;
      extra += this.blocksOf(c.computed + k - c.hit) - this.blocksOf(c.computed + 1 - c.hit);
    }
    // The run's growth is booked now but the cache is evicted for it only when the run ends
    // (`endStep`), for the steps that actually ran: an interrupted run must not have evicted
    // what a step-by-step engine would have kept. Eviction is in a fixed LRU order nothing in
    // the run changes, so evicting the total at the end leaves the cache as step-by-step would.
    if (extra > this.freeBlocks() + this.cache.evictableBlocks) return;
    for (const c of this.running) if (c.decoding) c.ownBlocks = this.blocksOf(c.computed + k - c.hit);
    this.ownBlocks += extra;
    this.macroSteps = k;
  }

  /** At most `k`, and no more steps than it takes any running call to use up its level's quantum. */
  private beforeDemotion(k: number): number {
    const core = this.core;
    if (!core.policy.demotes) return k;
    const quanta = core.config.queues.quanta;
    // The most service any call can gain per step in this run is the last step's.
    const lastStep = this.firstStepSeconds + this.stepGrowthSeconds * (k - 1);
    const perStep = core.config.serviceUnit === 'share' ? lastStep / Math.max(1, this.activeCalls) : lastStep;
    for (const c of this.running) {
      const rec = c.spec.rec;
      if (rec.level >= quanta.length - 1 || (c.chunk === 0 && !c.decoding)) continue;
      const left = (quanta[rec.level] as number) - rec.levelService;
      k = Math.min(k, Math.max(1, Math.ceil(left / perStep)));
    }
    return k;
  }

  /**
   * How many of the next `k` steps (at most) provably keep the batch as it is while
   * calls wait. The batch is stable when no waiting call outranks its last call (a rebuild
   * would then only refill), refilling already failed this step or the batch is full (during
   * decode, memory and cached prefixes only shrink, so it fails again), no call was preempted
   * for memory this step, no running call can use up its level's quantum before the last step
   * (a demotion could let a waiting call outrank it), and no waiting call's anti-starvation
   * promotion falls due before the last step ends. When any of that cannot be shown, the run
   * stops at the next rebuild, as a step-by-step engine would.
   */
  private stableSteps(k: number): number {
    const untilRebuild = Math.min(k, this.options.rebuildEverySteps - this.stepsSinceRebuild);
    const worst = this.running[this.running.length - 1];
    const head = this.waiting[0];
    if (worst === undefined || head === undefined) return untilRebuild;
    if (this.preemptedThisStep) return untilRebuild;
    if (!this.refillBlocked && this.running.length < this.options.maxBatchSeqs) return untilRebuild;
    const core = this.core;
    if (core.compare(head.spec.rec, worst.spec.rec) < 0) return untilRebuild;
    // Promotion: waits reach the core at rebuilds; the run ends at the first step end at or
    // after the earliest moment a waiting call would be promoted.
    if (this.tracksStarvation) {
      const due = this.promotionBound();
      let j = 1;
      while (j < k && this.stepStart + this.runSeconds(j) < due) j += 1;
      k = j;
    }
    return k;
  }

  /** Seconds of the first `k` steps of the current run. */
  private runSeconds(k: number): number {
    return k * this.firstStepSeconds + (this.stepGrowthSeconds * k * (k - 1)) / 2;
  }

  /**
   * Cuts the run in flight short at the end of the step in progress at `now`, because something
   * arrived that the next step must see. Returns the new end time, or null when the run already
   * ends with that step (or no step is in flight).
   */
  interrupt(now: number): number | null {
    if (!this.stepping || this.macroSteps <= 1) return null;
    let j = 1;
    while (j < this.macroSteps && this.stepStart + this.runSeconds(j) < now) j += 1;
    if (j >= this.macroSteps) return null;
    this.macroSteps = j;
    this.stepDuration = this.runSeconds(j);
    let sum = 0;
    for (const c of this.running) {
      // A prefilling call holds its whole prompt's reservation; decoding calls give back the
      // blocks reserved for the steps that will not run.
      if (c.decoding) c.ownBlocks = this.blocksOf(c.computed + j - c.hit);
      sum += c.ownBlocks;
    }
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
    if (this.preemptedThisStep || this.orderDirty || this.waitingDirty) return true;
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
    this.ownBlocks -= c.ownBlocks;
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
    this.stats.batchSeqSum += this.activeCalls * k;
    if (this.waiting.length > this.stats.maxWaiting) this.stats.maxWaiting = this.waiting.length;
    this.stepsSinceRebuild += k;
    const share = this.core.config.serviceUnit === 'share' ? dt / Math.max(1, this.activeCalls) : dt;
    const done = this.doneBuffer;
    done.length = 0;
    let kept = 0;
    for (const c of this.running) {
      c.execTime += dt;
      if (c.chunk === 0 && !c.decoding) {
        this.running[kept++] = c;
        continue;
      }
      if (this.core.addService(c.spec.rec, share) !== null) this.orderDirty = true;
      if (c.chunk > 0) {
        c.computed += c.chunk * k;
        this.stats.prefillTokens += c.chunk * k;
        c.chunk = 0;
        if (c.computed >= c.prefillTarget) this.emitToken(c, now, 1);
      } else {
        c.decoding = false;
        c.computed += k;
        this.emitToken(c, now, k);
      }
      if (c.generated >= c.spec.outputTokens) done.push(c);
      else this.running[kept++] = c;
    }
    this.running.length = kept;
    for (const c of done) this.finish(c);
    return done;
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

  /** Re-sorts the running batch by priority (after demotions, when no rebuild is needed). */
  private sortRunning(): void {
    const core = this.core;
    this.running.sort((a, b) => core.compare(a.spec.rec, b.spec.rec));
    this.orderDirty = false;
  }

  /**
   * Strict-priority rebuild. The running batch and the waiting queue are each kept sorted, so
   * the candidates are their merge; it is walked only as far as the plan can admit (every
   * running call is still visited, to know which to preempt). Waits are reported to the core
   * first when anti-starvation can act on them, and a promotion re-sorts the queue.
   */
  private rebuild(now: number): void {
    this.stepsSinceRebuild = 0;
    const core = this.core;
    if (this.tracksStarvation && now >= this.promotionBound()) {
      // A promotion may be due: every wait reaches the core now (a call's wait is otherwise
      // reported when it is admitted), then the bound is recomputed.
      let promoted = false;
      for (const c of this.waiting) if (this.reportWait(c, now)) promoted = true;
      if (promoted) this.waitingDirty = true;
      this.promotionStale = true;
    }
    const byPriority = (a: EngineCall, b: EngineCall): number => core.compare(a.spec.rec, b.spec.rec);
    if (this.waitingDirty || this.core.policy.clairvoyant) {
      this.waiting.sort(byPriority);
      this.waitingDirty = false;
    }
    if (this.orderDirty || this.core.policy.clairvoyant) this.running.sort(byPriority);
    this.orderDirty = false;
    const worst = this.running[this.running.length - 1];
    const head = this.waiting[0];
    if (head === undefined) return;
    if (worst !== undefined && byPriority(worst, head) <= 0) {
      // No waiting call outranks a running one: the strict plan keeps the batch and admits
      // from the head while calls fit, which is exactly a refill.
      this.refill(now);
      return;
    }
    const budgetBlocks = this.capacityBlocks - this.cache.pinnedBlocks;
    const running = this.running;
    const waiting = this.waiting;
    const byKey = new Map<string, EngineCall>();
    const candidates: BatchCandidate[] = [];
    let used = 0;
    let open = true;
    let i = 0;
    let j = 0;
    while (i < running.length || (open && j < waiting.length)) {
      const r = running[i];
      const w = open ? waiting[j] : undefined;
      let c: EngineCall;
      if (r !== undefined && (w === undefined || byPriority(r, w) <= 0)) {
        c = r;
        i += 1;
      } else {
        c = w as EngineCall;
        j += 1;
      }
      byKey.set(c.spec.rec.key, c);
      const need = open ? this.blocksNeeded(c) : Number.POSITIVE_INFINITY;
      used += need;
      if (used > budgetBlocks || candidates.length >= this.options.maxBatchSeqs) open = false;
      candidates.push({ key: c.spec.rec.key, running: c.state === EngineCallState.running, blocksNeeded: need });
    }
    const plan = rebuildBatch(candidates, { maxSeqs: this.options.maxBatchSeqs, blocks: budgetBlocks });
    if (plan.admit.length === 0 && plan.preempt.length === 0) return;
    const next: EngineCall[] = [];
    for (const key of plan.keep) next.push(byKey.get(key) as EngineCall);
    this.running = next;
    // Preempt first: the admitted calls need the memory the preempted ones give back.
    const preempted: EngineCall[] = [];
    for (const key of plan.preempt) {
      const c = byKey.get(key) as EngineCall;
      this.preempt(c, now);
      preempted.push(c);
    }
    // Admitted calls are the head of the sorted queue, in order.
    let admitted = 0;
    for (const key of plan.admit) {
      const c = byKey.get(key) as EngineCall;
      if (!this.admit(c, now)) break;
      admitted += 1;
    }
    this.waiting.splice(0, admitted);
    for (const c of preempted) this.insertWaiting(c);
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
      const t = swapSeconds(this.profile, c.computed);
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
    const last = this.running[this.running.length - 1];
    if (last !== undefined && this.core.compare(c.spec.rec, last.spec.rec) < 0) this.orderDirty = true;
    this.running.push(c);
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
   */
  private planStep(now: number): {
    decodeSeqs: number;
    decodeContextTokens: number;
    prefillTokens: number;
    prefillSeqs: number;
    prefillAttentionPairs: number;
  } {
    if (this.orderDirty) this.sortRunning();
    for (;;) {
      let decodeSeqs = 0;
      let decodeContextTokens = 0;
      let prefillTokens = 0;
      let prefillSeqs = 0;
      let prefillAttentionPairs = 0;
      let newBlocks = 0;
      const chunked = this.options.chunkedPrefill;
      let anyPrefill = false;
      if (!chunked) {
        for (const c of this.running) {
          if (c.computed < c.prefillTarget) {
            anyPrefill = true;
            break;
          }
        }
      }
      let budget = this.options.maxBatchTokens;
      for (const c of this.running) {
        c.chunk = 0;
        c.decoding = false;
      }
      if (chunked || !anyPrefill) {
        for (const c of this.running) {
          if (c.computed >= c.prefillTarget) {
            c.decoding = true;
            decodeSeqs += 1;
            decodeContextTokens += c.computed;
            budget -= 1;
            newBlocks += Math.max(0, this.blocksOf(c.computed + 1 - c.hit) - c.ownBlocks);
          }
        }
      }
      for (const c of this.running) {
        const remaining = c.prefillTarget - c.computed;
        if (remaining <= 0) continue;
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
        newBlocks += Math.max(0, this.blocksOf(c.computed + c.chunk - c.hit) - c.ownBlocks);
      }
      if (this.reserve(newBlocks)) {
        this.ownBlocks += newBlocks;
        this.activeCalls = decodeSeqs + prefillSeqs;
        for (const c of this.running) {
          const end = c.chunk > 0 ? c.computed + c.chunk : c.decoding ? c.computed + 1 : c.computed;
          const blocks = this.blocksOf(end - c.hit);
          c.ownBlocks = Math.max(c.ownBlocks, blocks);
        }
        this.rebalanceOwn();
        return { decodeSeqs, decodeContextTokens, prefillTokens, prefillSeqs, prefillAttentionPairs };
      }
      const victim = this.running.pop() as EngineCall;
      this.preemptForMemory(victim, now);
      if (this.running.length === 0) {
        return { decodeSeqs: 0, decodeContextTokens: 0, prefillTokens: 0, prefillSeqs: 0, prefillAttentionPairs: 0 };
      }
    }
  }

  /** Keeps the engine's own-block total equal to the sum over running calls. */
  private rebalanceOwn(): void {
    let sum = 0;
    for (const c of this.running) sum += c.ownBlocks;
    this.ownBlocks = sum;
  }

  private preemptForMemory(c: EngineCall, now: number): void {
    this.preemptedThisStep = true;
    this.preempt(c, now);
    this.insertWaiting(c);
  }
}
