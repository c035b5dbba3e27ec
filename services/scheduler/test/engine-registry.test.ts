import type { EngineHeartbeat } from '@autellix/protocol';
import { describe, expect, it } from 'vitest';
import { EngineRegistry, engineLists, FINISHED_MEMORY_MS } from '../src/engine-registry.ts';

const hb = (engineId: string, over: Partial<EngineHeartbeat> = {}): EngineHeartbeat => ({
  type: 'engine.heartbeat',
  v: 1,
  engineId,
  backend: 'sim',
  running: 1,
  queued: 0,
  kvUsed: 0.25,
  maxBatch: 8,
  deadAfterMs: 1000,
  calls: [],
  ...over,
});

describe('EngineRegistry', () => {
  it("gives the balancer each engine's load with its own count of placed calls, and prefixCache only when the engine said", () => {
    const r = new EngineRegistry();
    expect(r.heartbeat(hb('b', { backend: 'llama', prefixCache: false }), 0)).toBe(true);
    expect(r.heartbeat(hb('a', { prefixCache: true }), 0)).toBe(true);
    expect(r.heartbeat(hb('c', { backend: 'openai' }), 0)).toBe(true);
    const placed: Record<string, number> = { a: 3, b: 0, c: 1 };
    expect(r.loads((id) => placed[id] ?? 0)).toEqual([
      { id: 'a', running: 1, queued: 2, kvUsed: 0.25, prefixCache: true },
      { id: 'b', running: 0, queued: 0, kvUsed: 0.25, prefixCache: false },
      { id: 'c', running: 1, queued: 0, kvUsed: 0.25 },
    ]);
  });

  it('follows what the latest heartbeat says, and forgets an engine silent past its deadAfterMs', () => {
    const r = new EngineRegistry();
    r.heartbeat(hb('a', { prefixCache: true }), 0);
    expect(r.heartbeat(hb('a'), 500)).toBe(false);
    expect(r.get('a')?.prefixCache).toBeNull();
    expect(r.sweepDead(1400)).toEqual([]);
    expect(r.sweepDead(1501)).toEqual(['a']);
    expect(r.size).toBe(0);
  });

  it('remembers the calls an engine listed as finished for FINISHED_MEMORY_MS after it first listed them, whatever later heartbeats leave out', () => {
    const r = new EngineRegistry();
    r.heartbeat(hb('a', { calls: ['s/held'], finished: ['s/x', 's/y'] }), 0);
    // A short heartbeat (the last 2 s only): s/x is no longer listed, s/z is new; s/y again.
    r.heartbeat(hb('a', { calls: [], finished: ['s/y', 's/z'] }), 10_000);
    const e = r.get('a');
    if (e === undefined) throw new Error('engine a not registered');
    expect(engineLists(e, 's/x')).toBe(true);
    expect(engineLists(e, 's/held')).toBe(false);
    expect([...e.finished.keys()]).toEqual(['s/x', 's/y', 's/z']);
    // s/x and s/y were first listed at 0: forgotten once FINISHED_MEMORY_MS has passed since; s/z at 10 s stays.
    r.heartbeat(hb('a'), FINISHED_MEMORY_MS + 1);
    expect([...e.finished.keys()]).toEqual(['s/z']);
    expect(engineLists(e, 's/z')).toBe(true);
    // An engine that sends no finished (an older one) lists its recent outcomes in calls.
    r.heartbeat(hb('b', { calls: ['s/old-style'] }), 0);
    const b = r.get('b');
    expect(b !== undefined && engineLists(b, 's/old-style')).toBe(true);
  });
});
