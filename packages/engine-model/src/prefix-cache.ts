import { ScratchList } from './scratch-list.ts';
import type { Segment } from './segment.ts';

/** One engine's cache state for one segment. */
export interface CacheNode {
  readonly segment: Segment;
  readonly parent: CacheNode | null;
  /** Tokens of the segment's prefix held in cache, in [0, segment.length]. */
  cached: number;
  /** Running calls that read this node's cached tokens; a pinned node is never evicted. */
  pins: number;
  /** Children with cached > 0; a node with cached children is not evicted (they would be unreachable). */
  cachedChildren: number;
  /** Child nodes that exist in the map; a node is dropped from the map only when it has none. */
  children: number;
  /** Neighbours in the LRU list (older, newer); null at the ends or when not listed. */
  older: CacheNode | null;
  newer: CacheNode | null;
  /** Recency: a larger stamp was used more recently. Unique among cached nodes. */
  stamp: number;
  /** True while the node is in the LRU list, i.e. cached and unpinned. */
  listed: boolean;
}

/** The nodes a call pinned, to unpin exactly those later. */
export type PinSet = CacheNode[];

/**
 * Block-granular prefix cache of one engine (vLLM's automatic prefix caching, modelled over
 * segments instead of hashed blocks).
 *
 * Invariants: a node with cached > 0 has every ancestor fully cached, so a lookup walks from
 * the root and stops at the first node not fully cached. `blocks` = sum of ceil(cached / blockSize).
 * Eviction is least-recently-used over unpinned nodes with no cached children; a use touches
 * a path from leaf to root, so ancestors are always more recent than their descendants.
 * Recency is a stamp per node; the LRU list holds only the cached unpinned nodes, in stamp
 * order (a pinned node leaves it and returns to its stamp's place when unpinned), so eviction
 * never walks past the nodes running calls hold.
 */
export class PrefixCache {
  readonly blockSize: number;
  private readonly nodes = new Map<Segment, CacheNode>();
  /**
   * Cached nodes in least-recently-used order, as an intrusive doubly linked list (oldest at
   * `lruOldest`): a touch is a few pointer moves, with no hashing and no allocation.
   */
  private lruOldest: CacheNode | null = null;
  private lruNewest: CacheNode | null = null;
  /** Last stamp given out. */
  private clock = 0;
  /** Leaf-to-root scratch path, reused by every call (never exposed). */
  private readonly scratch = new ScratchList<CacheNode>();
  /** Leaf-to-root scratch chain for `peek`. */
  private readonly segmentScratch = new ScratchList<Segment>();
  /** Blocks held by cached nodes. */
  blocks = 0;
  /** Blocks of cached nodes that are pinned (not evictable). */
  pinnedBlocks = 0;
  hitTokens = 0;
  lookupTokens = 0;
  evictions = 0;

  constructor(blockSize: number) {
    this.blockSize = blockSize;
  }

  private blocksOf(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  private node(segment: Segment): CacheNode {
    let n = this.nodes.get(segment);
    if (n === undefined) {
      const parent = segment.parent === null ? null : this.node(segment.parent);
      n = { segment, parent, cached: 0, pins: 0, cachedChildren: 0, children: 0, older: null, newer: null, stamp: 0, listed: false };
      if (parent) parent.children += 1;
      this.nodes.set(segment, n);
    }
    return n;
  }

  private setCached(n: CacheNode, cached: number): void {
    if (cached === n.cached) return;
    const delta = this.blocksOf(cached) - this.blocksOf(n.cached);
    this.blocks += delta;
    if (n.pins > 0) this.pinnedBlocks += delta;
    if (n.cached === 0 && cached > 0) {
      if (n.parent) n.parent.cachedChildren += 1;
      n.stamp = ++this.clock;
      if (n.pins === 0) this.lruAppend(n);
    } else if (n.cached > 0 && cached === 0) {
      if (n.parent) n.parent.cachedChildren -= 1;
      if (n.listed) this.lruUnlink(n);
    }
    n.cached = cached;
    if (cached === 0) this.drop(n);
  }

  /** Removes nodes that hold nothing (no cache, no pins, no child nodes), up the chain. */
  private drop(start: CacheNode): void {
    for (let n: CacheNode | null = start; n !== null; n = n.parent) {
      if (n.cached > 0 || n.pins > 0 || n.children > 0 || this.nodes.get(n.segment) !== n) return;
      this.nodes.delete(n.segment);
      if (n.parent) n.parent.children -= 1;
    }
  }

  /** Nodes currently held (for tests: an idle cache with nothing cached holds none). */
  get size(): number {
    return this.nodes.size;
  }

  /**
   * Leaf-to-root list of the nodes of `leaf`'s chain (the root last), in the shared scratch
   * list: valid until the next call to `path`, so callers finish with it before calling
   * anything that uses it.
   */
  private path(leaf: Segment): ScratchList<CacheNode> {
    const out = this.scratch;
    out.clear();
    for (let n: CacheNode | null = this.node(leaf); n !== null; n = n.parent) out.push(n);
    return out;
  }

  /**
   * Like `path`, but creates no node: the list starts at the deepest segment of the chain
   * that has a node (every ancestor of a node has one). Segments below it hold no cache, so a
   * lookup stops before them anyway. Empty when no segment of the chain has a node.
   */
  private existingPath(leaf: Segment): ScratchList<CacheNode> {
    const out = this.scratch;
    out.clear();
    let deepest: CacheNode | null = null;
    for (let s: Segment | null = leaf; s !== null && deepest === null; s = s.parent) deepest = this.nodes.get(s) ?? null;
    for (let n = deepest; n !== null; n = n.parent) out.push(n);
    return out;
  }

  /**
   * Cached tokens of the first `want` tokens of `leaf`'s chain, without pinning or touching.
   * At most want - 1: the last prompt token is always computed (its logits are needed).
   */
  peek(leaf: Segment, want: number): number {
    const chain = this.segmentScratch;
    chain.clear();
    for (let s: Segment | null = leaf; s !== null; s = s.parent) chain.push(s);
    let hit = 0;
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = this.nodes.get(chain.items[i] as Segment);
      if (n === undefined) break;
      hit += n.cached;
      if (n.cached < n.segment.length) break;
    }
    return Math.max(0, Math.min(hit, want - 1));
  }

  /**
   * Looks up and pins the cached prefix of the first `want` tokens of `leaf`'s chain, touching
   * the path. Returns the hit (at most want - 1) and the pinned nodes. Counts hit statistics.
   */
  acquire(leaf: Segment, want: number): { hit: number; pins: PinSet } {
    const path = this.existingPath(leaf);
    let hit = 0;
    const pins: PinSet = [];
    const limit = want - 1;
    for (let i = path.length - 1; i >= 0; i--) {
      const n = path.items[i] as CacheNode;
      if (n.cached === 0 || hit >= limit) break;
      pins.push(n);
      hit += n.cached;
      if (n.cached < n.segment.length) break;
    }
    hit = Math.max(0, Math.min(hit, limit));
    for (const n of pins) {
      if (n.pins === 0) {
        this.pinnedBlocks += this.blocksOf(n.cached);
        if (n.listed) this.lruUnlink(n);
      }
      n.pins += 1;
    }
    for (let i = pins.length - 1; i >= 0; i--) this.touch(pins[i] as CacheNode);
    this.hitTokens += hit;
    this.lookupTokens += want;
    return { hit, pins };
  }

  /** Undoes an `acquire` whose call could not be admitted: releases its pins and its hit statistics. */
  cancel(acquired: { hit: number; pins: PinSet }, want: number): void {
    this.release(acquired.pins);
    this.hitTokens -= acquired.hit;
    this.lookupTokens -= want;
  }

  /** Releases pins taken by `acquire`. */
  release(pins: PinSet): void {
    for (const n of pins) {
      n.pins -= 1;
      if (n.pins === 0) {
        this.pinnedBlocks -= this.blocksOf(n.cached);
        if (n.cached > 0) this.lruInsertByStamp(n);
        this.drop(n);
      }
    }
  }

  /**
   * Marks the first `tokens` tokens of `leaf`'s chain as cached (a finished or recomputed
   * call donates its KV). Returns how many blocks the cache grew by.
   */
  insert(leaf: Segment, tokens: number): number {
    const before = this.blocks;
    const path = this.path(leaf);
    for (let i = path.length - 1; i >= 0; i--) {
      const n = path.items[i] as CacheNode;
      const covered = Math.min(n.segment.length, Math.max(0, tokens - n.segment.offset));
      if (covered <= 0) break;
      if (covered > n.cached) this.setCached(n, covered);
    }
    for (let i = 0; i < path.length; i++) {
      const n = path.items[i] as CacheNode;
      if (n.cached > 0) this.touch(n);
    }
    this.drop(path.items[0] as CacheNode);
    return this.blocks - before;
  }

  /** Makes a cached node the most recently used. */
  private touch(n: CacheNode): void {
    if (n.stamp === this.clock) return;
    n.stamp = ++this.clock;
    if (!n.listed) return;
    this.lruUnlink(n);
    this.lruAppend(n);
  }

  /** Appends `n` (its stamp the newest) at the newest end. */
  private lruAppend(n: CacheNode): void {
    n.listed = true;
    n.older = this.lruNewest;
    n.newer = null;
    if (this.lruNewest !== null) this.lruNewest.newer = n;
    else this.lruOldest = n;
    this.lruNewest = n;
  }

  /** Puts an unpinned node back in the list at its stamp's place (searching from the newest end). */
  private lruInsertByStamp(n: CacheNode): void {
    let after = this.lruNewest;
    while (after !== null && after.stamp > n.stamp) after = after.older;
    n.listed = true;
    n.older = after;
    n.newer = after === null ? this.lruOldest : after.newer;
    if (n.newer !== null) n.newer.older = n;
    else this.lruNewest = n;
    if (after !== null) after.newer = n;
    else this.lruOldest = n;
  }

  private lruUnlink(n: CacheNode): void {
    n.listed = false;
    if (n.older !== null) n.older.newer = n.newer;
    else if (this.lruOldest === n) this.lruOldest = n.newer;
    if (n.newer !== null) n.newer.older = n.older;
    else if (this.lruNewest === n) this.lruNewest = n.older;
    n.older = null;
    n.newer = null;
  }

  /** Blocks that eviction could free now. */
  get evictableBlocks(): number {
    return this.blocks - this.pinnedBlocks;
  }

  /**
   * Evicts least-recently-used unpinned leaf nodes until at least `blocks` blocks are freed or
   * nothing more can go. Returns the blocks freed.
   */
  evict(blocks: number): number {
    let freed = 0;
    while (freed < blocks) {
      let victim: CacheNode | null = null;
      for (let n = this.lruOldest; n !== null; n = n.newer) {
        if (n.pins === 0 && n.cachedChildren === 0) {
          victim = n;
          break;
        }
      }
      if (victim === null) break;
      freed += this.blocksOf(victim.cached);
      this.evictions += 1;
      this.setCached(victim, 0);
    }
    return freed;
  }
}
