/** What a progress bar writes to (process.stderr fits). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** Progress to draw: `done` of `total` units; `label` names the unit in flight. */
export interface ProgressState {
  readonly done: number;
  readonly total: number;
  readonly label: string;
}

/**
 * `[#####.....] 12/40 plas@1.2/s`: `width` cells, `#` for the done fraction (rounded down, so
 * the bar is full only when done >= total), `.` for the rest. A total of 0 draws an empty bar.
 */
export function renderBar(state: ProgressState, width = 20): string {
  const fraction = state.total > 0 ? Math.min(1, Math.max(0, state.done / state.total)) : 0;
  const full = Math.floor(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${state.done}/${state.total} ${state.label}`;
}

/**
 * A progress bar on a stream. On a TTY it redraws one line with `\r` (padding over a longer
 * previous line) and `finish()` ends the line. Elsewhere (CI logs) it writes a whole line at
 * the first update and whenever progress enters a new 10% step, and `finish()` writes nothing.
 */
export class ProgressBar {
  private readonly stream: ProgressStream;
  private readonly width: number;
  private lastLength = 0;
  private lastDecile = -1;
  private drawn = false;

  constructor(stream: ProgressStream, width = 20) {
    this.stream = stream;
    this.width = width;
  }

  update(state: ProgressState): void {
    const text = renderBar(state, this.width);
    if (this.stream.isTTY === true) {
      this.stream.write(`\r${text.padEnd(this.lastLength)}`);
      this.lastLength = text.length;
      this.drawn = true;
      return;
    }
    const decile = state.total > 0 ? Math.floor((10 * Math.min(state.done, state.total)) / state.total) : 0;
    if (decile > this.lastDecile) {
      this.lastDecile = decile;
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the bar's line on a TTY; idempotent. */
  finish(): void {
    if (this.stream.isTTY === true && this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.lastLength = 0;
  }
}
