import { describe, expect, it } from 'vitest';
import { UnclaimedCalls } from '../src/fast-intake.ts';

const bytes = (...b: number[]) => new Uint8Array(b);

describe('UnclaimedCalls', () => {
  it('claims a stream copy by message id only when its bytes are the plain copy\'s', () => {
    const u = new UnclaimedCalls();
    u.add('s/c1', 0, { msgID: 's/c1', data: bytes(1, 2, 3) });
    expect(u.claimCopy('s/c1', bytes(1, 2, 4))).toBeNull();
    expect(u.claimCopy('s/c1', bytes(1, 2))).toBeNull();
    expect(u.claimCopy('other', bytes(1, 2, 3))).toBeNull();
    expect(u.size).toBe(1);
    expect(u.claimCopy('s/c1', bytes(1, 2, 3))).toBe('s/c1');
    expect(u.size).toBe(0);
    // Claimed once: neither way finds it again.
    expect(u.claimCopy('s/c1', bytes(1, 2, 3))).toBeNull();
    expect(u.claim('s/c1')).toBe(false);
  });

  it('a call without a message id is claimed by its key only', () => {
    const u = new UnclaimedCalls();
    u.add('s/c1', 0);
    expect(u.claimCopy('s/c1', bytes())).toBeNull();
    expect(u.claim('s/c1')).toBe(true);
    expect(u.claim('s/c1')).toBe(false);
  });

  it('claiming by key forgets the message id, and a reused id points at the latest call', () => {
    const u = new UnclaimedCalls();
    u.add('s/c1', 0, { msgID: 'm', data: bytes(1) });
    u.add('s/c2', 0, { msgID: 'm', data: bytes(2) });
    expect(u.claimCopy('m', bytes(1))).toBeNull(); // the id now names c2
    expect(u.claim('s/c1')).toBe(true);
    expect(u.claimCopy('m', bytes(2))).toBe('s/c2');
    expect(u.size).toBe(0);
  });

  it('takes overdue calls in application order and forgets them', () => {
    const u = new UnclaimedCalls();
    u.add('s/a', 0, { msgID: 'a', data: bytes(1) });
    u.add('s/b', 5);
    u.add('s/c', 50);
    expect(u.takeOverdue(30, 10)).toEqual(['s/a', 's/b']);
    expect(u.claimCopy('a', bytes(1))).toBeNull();
    expect(u.size).toBe(1);
  });
});
