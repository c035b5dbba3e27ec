import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { endProgressLine, progressLine } from '../src/replay.ts';

/** A real writable stream that keeps what is written, with `isTTY` as given. */
function capture(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  Object.assign(w, { isTTY });
  return { out: w as unknown as NodeJS.WriteStream, text: () => text };
}

describe('progressLine', () => {
  it('on a terminal rewrites one line at most every 500 ms, and always at the end', async () => {
    const { out, text } = capture(true);
    let now = 0;
    const tick = progressLine('fcfs', () => now, out);
    tick(1, 3, 2);
    now = 100;
    tick(2, 3, 1); // within 500 ms: skipped
    now = 200;
    tick(3, 3, 0); // the last program: always written
    endProgressLine(out);
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe('\r  fcfs: 1/3 programs done, 2 in flight, 0 s \r  fcfs: 3/3 programs done, 0 in flight, 0 s \n');
  });

  it('writes nothing when the output is not a terminal', async () => {
    const { out, text } = capture(false);
    const tick = progressLine('plas', () => 0, out);
    tick(1, 1, 0);
    endProgressLine(out);
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe('');
  });
});
