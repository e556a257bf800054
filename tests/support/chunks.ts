import { expect, it } from 'vitest';

/** A differential-test failure: which seed, and why. */
export interface Mismatch {
  seed: number;
  reason: string;
}

/**
 * Registers one test per chunk of seeds: each compares its seeds, prints and records the
 * mismatches (into `all`, for the summary test) and fails on any. Chunks keep each test inside its
 * timeout and show progress.
 */
export function chunkTests(seeds: readonly number[], chunk: number, timeoutMs: number, compare: (seed: number) => Promise<Mismatch[]>, all: Mismatch[]): void {
  for (let start = 0; start < seeds.length; start += chunk) {
    const part = seeds.slice(start, start + chunk);
    it(`seeds ${part[0]}..${part[part.length - 1]}`, async () => {
      const mismatches: Mismatch[] = [];
      for (const seed of part) mismatches.push(...(await compare(seed)));
      all.push(...mismatches);
      if (mismatches.length > 0) console.log(mismatches.map((m) => `seed ${m.seed}: ${m.reason}`).join('\n'));
      expect(mismatches).toEqual([]);
    }, timeoutMs);
  }
}
