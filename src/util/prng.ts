/**
 * Small, fast, well-distributed 32-bit PRNG (Tommy Ettinger's mulberry32). Returns floats in
 * [0, 1). Every seeded generator in the project (demo orders, data scripts, test instances) draws
 * from this one, so a seed means the same stream everywhere; Math.random is never used.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
