/** Keeps the last `capacity` lines pushed into it (a bounded log tail for error messages). */
export class LineTail {
  readonly #capacity: number;
  readonly #lines: string[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.shift();
  }

  /** A copy of the retained lines, oldest first. */
  lines(): string[] {
    return [...this.#lines];
  }
}
