/**
 * The line caps inside the Lagrangian's site subproblems (solver/exact/lagrange.ts): a line that
 * reaches a site from several pools (its own stock and transfers) is capped there at its
 * quantity. The cap is implied by the line's row, so the bound stays a lower bound: checked
 * against the optimum of the independent reference model (HiGHS, tests/reference/highs-model.ts)
 * along subgradient ascents, at the root and with the sites of the optimal plan fixed to its
 * options (Lagrangian.leafBound), on generated instances where such lines are common (up to
 * three transfer arcs per line and site, many hubs).
 */
import { describe, expect, it } from 'vitest';
import { FREE, Lagrangian } from '../../solver/exact/lagrange.js';
import { reduceProblem } from '../../solver/reduce.js';
import type { Problem } from '../../solver/types.js';
import { solveWithHighs } from '../reference/highs-model.js';
import { generateProblem } from '../support/instances.js';

/** Options that can open, as solveExact decides them (a parcel of room, an arc to carry). */
function usableOf(q: Problem): boolean[] {
  return q.options.map((o) => {
    const capO = Math.min(q.sites[o.site]!.parcelCap ?? Infinity, q.couriers[o.courier]!.parcelCap ?? Infinity);
    if (capO < 1) return false;
    return q.arcs.some((a) => a.site === o.site && (o.transfer || !a.transfer) && q.pools[a.pool]!.qty > 0);
  });
}

/** Whether some line's arcs at one site can together carry more than the line's quantity (the case the caps are for). */
function hasCappedLine(p: Problem): boolean {
  const units = new Map<string, number>();
  for (const a of p.arcs) {
    const k = `${a.site}|${a.line}`;
    units.set(k, (units.get(k) ?? 0) + Math.min(p.lines[a.line]!.qty, p.pools[a.pool]!.qty));
  }
  return [...units].some(([k, u]) => u > p.lines[Number(k.split('|')[1])]!.qty);
}

const COUNT = 150;

describe('Lagrangian bound with line caps', () => {
  it('never exceeds the optimum (HiGHS), at the root and with the optimal options open', async () => {
    let capped = 0;
    let leafChecks = 0;
    let tight = 0;
    for (let i = 0; i < COUNT; i++) {
      const p = generateProblem(47_000 + i, {
        lines: 1 + (i % 6),
        sites: 3 + (i % 9),
        couriers: 1 + (i % 4),
        maxTransfersPerLine: 3,
        hubProbability: 0.7,
      });
      if (hasCappedLine(p)) capped++;
      const ref = await solveWithHighs(p);
      expect(ref.status).toBe('Optimal');
      const opt = ref.objective;
      const slack = 1e-6 * (1 + Math.abs(opt));
      const { problem: q, optionMap } = reduceProblem(p);
      const usable = usableOf(q);
      const lag = new Lagrangian(q, usable);
      const state = new Int32Array(q.sites.length).fill(FREE);
      const allowed = Uint8Array.from(usable.map((u) => (u ? 1 : 0)));
      // The optimal plan's options in the reduced problem (when none was dropped as dominated).
      const toReduced = new Map(optionMap.map((orig, red) => [orig, red]));
      const openOpt = ref.plan.shipments.map((s) => toReduced.get(s.option) ?? -1);
      const leafOk = openOpt.every((oi) => oi >= 0 && usable[oi]);
      let best = -Infinity;
      for (let it = 0; it < 60; it++) {
        const L = lag.evaluate(state, allowed);
        best = Math.max(best, L);
        expect(L).toBeLessThanOrEqual(opt + slack);
        if (leafOk && openOpt.length > 0) {
          leafChecks++;
          expect(lag.leafBound(openOpt)).toBeLessThanOrEqual(opt + slack);
        }
        if (lag.subgradient() < 1e-12) break;
        lag.step((((it % 3) + 1) * Math.max(1, 0.05 * Math.abs(L))) / lag.direction(0.5));
      }
      if (best >= opt - 1e-3 * (1 + Math.abs(opt))) tight++;
    }
    // The instances exercise the caps, and the bound is not trivially weak.
    expect(capped).toBeGreaterThan(COUNT / 2);
    expect(leafChecks).toBeGreaterThan(1_000);
    expect(tight).toBeGreaterThan(0);
  }, 120_000);
});
