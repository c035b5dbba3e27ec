/**
 * Min-heap of timed events. Ties in time pop in insertion order (FIFO), so a run is
 * deterministic whatever the heap's internal layout.
 */
export class EventQueue<T> {
  private times: number[] = [];
  private seqs: number[] = [];
  private items: T[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  /** Schedules `item` at `time`. */
  push(time: number, item: T): void {
    let i = this.items.length;
    const seq = this.nextSeq++;
    this.times.push(time);
    this.seqs.push(seq);
    this.items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(time, seq, this.times[p] as number, this.seqs[p] as number)) break;
      this.move(p, i);
      i = p;
    }
    this.place(i, time, seq, item);
  }

  /** Time of the earliest event; undefined when empty. */
  peekTime(): number | undefined {
    return this.times[0];
  }

  /** Removes and returns the earliest event; undefined when empty. */
  pop(): { time: number; item: T } | undefined {
    const time = this.times[0];
    if (time === undefined) return undefined;
    return { time, item: this.popItem() as T };
  }

  /**
   * Removes and returns the earliest event's item (its time is `peekTime()` before the call);
   * undefined when empty. Allocates nothing, for the simulator's loop.
   */
  popItem(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0] as T;
    const lastTime = this.times.pop() as number;
    const lastSeq = this.seqs.pop() as number;
    const lastItem = this.items.pop() as T;
    if (n > 1) {
      let i = 0;
      const m = n - 1;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= m) break;
        const r = l + 1;
        let c = l;
        if (r < m && this.less(this.times[r] as number, this.seqs[r] as number, this.times[l] as number, this.seqs[l] as number)) c = r;
        if (!this.less(this.times[c] as number, this.seqs[c] as number, lastTime, lastSeq)) break;
        this.move(c, i);
        i = c;
      }
      this.place(i, lastTime, lastSeq, lastItem);
    }
    return top;
  }

  private less(t1: number, s1: number, t2: number, s2: number): boolean {
    return t1 < t2 || (t1 === t2 && s1 < s2);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.seqs[to] = this.seqs[from] as number;
    this.items[to] = this.items[from] as T;
  }

  private place(i: number, time: number, seq: number, item: T): void {
    this.times[i] = time;
    this.seqs[i] = seq;
    this.items[i] = item;
  }
}
