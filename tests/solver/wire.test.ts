/**
 * The solver threads' problem format (src/solve/wire.ts): decoding what was encoded gives the
 * same problem back, on generated instances and on the problems the demo day poses (nulls,
 * booleans, transfers, names), and a damaged message is refused instead of solved wrong.
 */
import { describe, expect, it } from 'vitest';
import { decodeProblem, encodeProblem } from '../../src/solve/wire.js';
import type { Problem } from '../../solver/types.js';
import { generateProblem, generateTinyProblem, problemForSeed } from '../support/instances.js';

describe('problem wire format', () => {
  it('round-trips generated problems exactly', () => {
    const problems: Problem[] = [];
    for (let i = 0; i < 300; i++) problems.push(problemForSeed(20_251_000 + i));
    for (let i = 0; i < 50; i++) problems.push(generateTinyProblem(20_252_000 + i));
    problems.push(generateProblem(7, { lines: 10, sites: 17 }));
    let nulls = 0;
    let transfers = 0;
    for (const p of problems) {
      nulls += p.couriers.filter((c) => c.parcelCap === null || c.kgCap === null).length + p.sites.filter((s) => s.parcelCap === null).length;
      transfers += p.arcs.filter((a) => a.transfer).length;
      const w = encodeProblem(p);
      // What a worker thread receives: a copy of the numbers and the names.
      expect(decodeProblem({ numbers: new Float64Array(w.numbers), names: w.names })).toEqual(p);
    }
    // The instances exercise what the format has to carry.
    expect(nulls).toBeGreaterThan(0);
    expect(transfers).toBeGreaterThan(0);
  });

  it('round-trips a problem with nothing to ship from', () => {
    const p: Problem = { lines: [], pools: [], sites: [], arcs: [], options: [], couriers: [], splitPenalty: 10, backorderPenalty: 1_000, allowSplit: false };
    expect(decodeProblem(encodeProblem(p))).toEqual(p);
  });

  it('refuses a message of another version or the wrong length', () => {
    const w = encodeProblem(problemForSeed(20_251_000));
    const other = new Float64Array(w.numbers);
    other[0] = 99;
    expect(() => decodeProblem({ numbers: other, names: w.names })).toThrow(/wire format 99/);
    expect(() => decodeProblem({ numbers: w.numbers.slice(0, -1), names: w.names })).toThrow(/malformed/);
    expect(() => decodeProblem({ numbers: w.numbers, names: `${w.names}\u0000extra` })).toThrow(/malformed/);
  });
});
