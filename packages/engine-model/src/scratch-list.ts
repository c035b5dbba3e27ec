/**
 * A list that is cleared and refilled without reallocating: `clear` only resets the count.
 * (Setting a plain array's length to 0 drops its backing store, so a hot loop that clears and
 * refills one allocates every time.) Entries at `length` and beyond are stale; read `items`
 * only below `length`.
 */
export class ScratchList<T> {
  readonly items: T[] = [];
  length = 0;

  push(item: T): void {
    this.items[this.length++] = item;
  }

  clear(): void {
    this.length = 0;
  }
}
