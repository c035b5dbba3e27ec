import type { CallAssign } from '@autellix/protocol';
import { describe, expect, it } from 'vitest';
import { SegmentRegistry } from '../src/segment-registry.ts';
import { assignOf } from './assign-fixture.ts';

/** An assignment that names the shared system prompt `sys` (100 tokens). */
function assign(callId: string, promptTokens: number, extra: Partial<CallAssign> = {}): CallAssign {
  return assignOf(callId, promptTokens, 10, { prefix: { id: 'sys', tokens: 100 }, ...extra });
}

/** A segment's chain as `key:offset+length`, newest first. */
function chain(s: { key: string; offset: number; length: number; parent: unknown } | null): string[] {
  const out: string[] = [];
  for (let x = s; x !== null; x = x.parent as typeof x) out.push(`${x.key}:${x.offset}+${x.length}`);
  return out;
}

describe('SegmentRegistry', () => {
  it('extends a parent this engine ran, else the shared prefix', () => {
    const r = new SegmentRegistry();
    const root = r.segmentFor(assign('a', 150), 10);
    expect(chain(root)).toEqual(['call:s/a:100+60', 'shared:sys:0+100']);
    const child = r.segmentFor(assign('b', 180, { parents: ['a'] }), 10);
    expect(chain(child)).toEqual(['call:s/b:160+30', 'call:s/a:100+60', 'shared:sys:0+100']);
    // Without ancestry a parent run elsewhere is unknown: only the shared prefix is found.
    const orphan = r.segmentFor(assign('d', 300, { parents: ['c'] }), 10);
    expect(chain(orphan)).toEqual(['call:s/d:100+210', 'shared:sys:0+100']);
  });

  it('builds the chain of a parent it never ran from the ancestry, so siblings share it', () => {
    const r = new SegmentRegistry();
    // a (ran elsewhere) ends at 160, its child p (ran elsewhere) at 250; x and y both extend p.
    const ancestry = [
      { callId: 'a', end: 160 },
      { callId: 'p', end: 250 },
    ];
    const x = r.segmentFor(assign('x', 270, { parents: ['p'], ancestry }), 10);
    const y = r.segmentFor(assign('y', 290, { parents: ['p'], ancestry }), 10);
    expect(chain(x)).toEqual(['call:s/x:250+30', 'call:s/p:160+90', 'call:s/a:100+60', 'shared:sys:0+100']);
    expect(chain(y)).toEqual(['call:s/y:250+50', 'call:s/p:160+90', 'call:s/a:100+60', 'shared:sys:0+100']);
    // The same objects: the engine's cache finds what x computed of p when y comes.
    expect(y.parent).toBe(x.parent);
  });

  it('keeps an ancestor it ran as it is, and ignores an ancestry that does not fit', () => {
    const r = new SegmentRegistry();
    const a = r.segmentFor(assign('a', 150), 10);
    const x = r.segmentFor(assign('x', 270, { parents: ['p'], ancestry: [{ callId: 'a', end: 160 }, { callId: 'p', end: 250 }] }), 10);
    expect(x.parent?.parent).toBe(a);
    // Ends that go backwards, or a chain that does not end with the first parent: the shared prefix only.
    const bad = r.segmentFor(assign('z', 400, { parents: ['q'], ancestry: [{ callId: 'q0', end: 300 }, { callId: 'q', end: 120 }] }), 10);
    expect(chain(bad)).toEqual(['call:s/z:100+310', 'shared:sys:0+100']);
    const other = r.segmentFor(assign('w', 400, { parents: ['q2'], ancestry: [{ callId: 'q1', end: 300 }] }), 10);
    expect(chain(other)).toEqual(['call:s/w:100+310', 'shared:sys:0+100']);
  });
});
