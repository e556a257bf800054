import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../../src/allocate/keyed-lock.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedLock', () => {
  it('runs holders of a shared key one at a time, in arrival order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (name: string, keys: string[]) =>
      lock.run(keys, async () => {
        log.push(`${name}+`);
        await tick();
        log.push(`${name}-`);
      });
    await Promise.all([job('a', ['x', 'y']), job('b', ['y']), job('c', ['x'])]);
    // b and c wait for a (they share y and x with it); b and c share nothing, so they may overlap.
    expect(log.slice(0, 2)).toEqual(['a+', 'a-']);
    expect(log.slice(2).sort()).toEqual(['b+', 'b-', 'c+', 'c-']);
    expect(lock.size).toBe(0);
  });

  it('lets disjoint keys overlap', async () => {
    const lock = new KeyedLock();
    let inside = 0;
    let maxInside = 0;
    const job = (k: string) =>
      lock.run([k], async () => {
        inside++;
        maxInside = Math.max(maxInside, inside);
        await tick();
        inside--;
      });
    await Promise.all([job('p'), job('q'), job('r')]);
    expect(maxInside).toBe(3);
  });

  it('releases the key when the holder throws', async () => {
    const lock = new KeyedLock();
    await expect(lock.run(['k'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run(['k'], async () => 7)).resolves.toBe(7);
    expect(lock.size).toBe(0);
  });
});
