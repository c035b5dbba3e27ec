import { describe, expect, it } from 'vitest';
import { OutcomeRuns } from '../src/outcome-runs.ts';

describe('OutcomeRuns', () => {
  it('counts a retried publish of one outcome once, and a call placed again (new attempt or engine) as a second run', () => {
    const r = new OutcomeRuns();
    r.add('done:s1/c1:engine-0:0');
    r.add('done:s1/c1:engine-0:0'); // the engine's retry of the same publish
    r.add('done:s1/c2:engine-0:0');
    r.add('done:s1/c2:engine-1:1'); // placed again after it was taken for lost
    r.add('failed:s:with:colons/c3:engine-1:0');
    expect(r.callCount).toBe(3);
    expect(r.runTwice).toBe(1);
    expect(r.unparsed).toBe(0);
  });

  it('counts ids that are not outcome ids apart', () => {
    const r = new OutcomeRuns();
    r.add('result:s1/c1:engine-0:0');
    r.add('done:s1/c1:engine-0:x');
    r.add('done:short');
    expect(r.unparsed).toBe(3);
    expect(r.callCount).toBe(0);
    expect(r.runTwice).toBe(0);
  });
});
