/**
 * The Lagrangian relaxation of the exact search (solver/exact/lagrange.ts): its cheap per-option
 * bound (optionBound) never exceeds the option's value (optionValue), and a lazy evaluation
 * (options whose cheap bound shows they cannot be their site's best are not valued) gives the
 * same bound, best option per site, chosen sites and subgradient as the full one. Checked along
 * subgradient ascents with assorted step sizes on generated instances of many shapes, at the
 * root and under random site fixings.
 */
import { describe, expect, it } from 'vitest';
import { CLOSED, FREE, Lagrangian, OPEN_ANY } from '../../solver/exact/lagrange.js';
import { reduceProblem } from '../../solver/reduce.js';
import type { Problem } from '../../solver/types.js';
import { mulberry32 } from '../../src/util/prng.js';
import { generateProblem } from '../support/instances.js';

/** Options that can open, as solveExact decides them (a parcel of room, an arc to carry). */
function usableOf(q: Problem): boolean[] {
  return q.options.map((o) => {
    const capO = Math.min(q.sites[o.site]!.parcelCap ?? Infinity, q.couriers[o.courier]!.parcelCap ?? Infinity);
    if (capO < 1) return false;
    return q.arcs.some((a) => a.site === o.site && (o.transfer || !a.transfer) && q.pools[a.pool]!.qty > 0);
  });
}

const instances = (): Problem[] =>
  Array.from({ length: 120 }, (_, i) => generateProblem(31_000 + i, { lines: 1 + (i % 10), sites: 3 + (i % 15), couriers: 1 + (i % 4) })).map((p) => reduceProblem(p).problem);

describe('Lagrangian relaxation', () => {
  it('bounds every option by at most its value (optionBound <= optionValue)', () => {
    let checked = 0;
    for (const q of instances()) {
      const usable = usableOf(q);
      const lag = new Lagrangian(q, usable);
      const state = new Int32Array(q.sites.length).fill(FREE);
      const allowed = Uint8Array.from(usable.map((u) => (u ? 1 : 0)));
      for (let it = 0; it < 25; it++) {
        lag.evaluate(state, allowed);
        for (const { bound, value } of lag.checkBounds()) {
          if (bound === -Infinity) continue;
          checked++;
          expect(bound).toBeLessThanOrEqual(value + 1e-9 * (1 + Math.abs(value)));
        }
        if (lag.subgradient() < 1e-12) break;
        lag.step(((it % 3) + 1) * 40 / lag.direction(0.5));
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  it('evaluates lazily to the same bound, site choices and subgradient', () => {
    const rnd = mulberry32(7);
    for (const q of instances()) {
      const usable = usableOf(q);
      const full = new Lagrangian(q, usable);
      const lazy = new Lagrangian(q, usable);
      const state = new Int32Array(q.sites.length).fill(FREE);
      for (let s = 0; s < state.length; s++) {
        const r = rnd();
        if (r < 0.15) state[s] = CLOSED;
        else if (r < 0.25) state[s] = OPEN_ANY;
      }
      const allowed = Uint8Array.from(usable.map((u) => (u && rnd() < 0.9 ? 1 : 0)));
      // As in the search: a site that must open has an allowed option.
      for (let s = 0; s < state.length; s++) if (state[s] === OPEN_ANY && !q.options.some((o, oi) => o.site === s && allowed[oi])) state[s] = FREE;
      for (let it = 0; it < 25; it++) {
        const a = full.evaluate(state, allowed);
        const b = lazy.evaluate(state, allowed, true);
        expect(b).toBe(a);
        expect(Array.from(lazy.openVal)).toEqual(Array.from(full.openVal));
        expect(Array.from(lazy.openOpt)).toEqual(Array.from(full.openOpt));
        expect(Array.from(lazy.chosen)).toEqual(Array.from(full.chosen));
        // A lazy optVal is a lower bound on the full one.
        full.optVal.forEach((v, oi) => expect(lazy.optVal[oi]!).toBeLessThanOrEqual(v + 1e-9 * (1 + Math.abs(v))));
        const ga = full.subgradient();
        const gb = lazy.subgradient();
        expect(gb).toBe(ga);
        if (ga < 1e-12) break;
        const step = (((it % 3) + 1) * 40) / full.direction(0.5);
        lazy.direction(0.5);
        full.step(step);
        lazy.step(step);
      }
    }
  });
});
