import { describe, expect, it } from 'vitest';
import { DecodeBarrier } from '../src/llama/decode-barrier.ts';

describe('DecodeBarrier', () => {
  it('goes up only while lock work is pending, and comes down when that work ends', async () => {
    let now = 100;
    const b = new DecodeBarrier(() => now);
    expect(b.raise()).toBe(false);
    expect(b.gate).toBeNull();
    let finish: () => void = () => {};
    const op = b.locked(() => new Promise<string>((r) => (finish = () => r('done'))));
    expect(b.raise()).toBe(true);
    expect(b.raise()).toBe(true);
    expect(b.raises).toBe(1);
    const gate = b.gate;
    expect(gate).not.toBeNull();
    let passed = false;
    void gate?.then(() => (passed = true));
    await Promise.resolve();
    expect(passed).toBe(false);
    b.noteToken(103); // the batch in flight drains ...
    b.noteToken(102);
    now = 107; // ... then the lock work runs
    finish();
    expect(await op).toBe('done');
    await Promise.resolve();
    expect(passed).toBe(true);
    expect(b.gate).toBeNull();
    expect(b.upMs).toBe(7);
    expect(b.drainMs).toBe(3);
    b.noteToken(110); // down: not a drain
    expect(b.drainMs).toBe(3);
  });

  it('comes down when the work fails too, and stays down once released', async () => {
    const b = new DecodeBarrier(() => 0);
    const failing = b.locked(() => Promise.reject(new Error('no lock')));
    expect(b.raise()).toBe(true);
    await expect(failing).rejects.toThrow('no lock');
    expect(b.gate).toBeNull();
    const pending = b.locked(() => new Promise<void>(() => {}));
    b.release();
    expect(b.raise()).toBe(false);
    expect(b.gate).toBeNull();
    void pending;
  });
});
