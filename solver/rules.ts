import { solveGreedy } from './greedy.js';
import { bestSingleSitePlan } from './single.js';
import type { Plan, Problem } from './types.js';

/** Per-site facts the radius-lock rule needs, computed by candidate generation. */
export interface RadiusFacts {
  /** Road km from the site to the destination. */
  roadKm: number;
  /** The site's service radius, road km. */
  radiusKm: number;
  /** Free units at the site per line (same order as problem.lines). */
  freePerLine: number[];
}

export type RadiusLockOutcome =
  | { locked: true; site: number; plan: Plan }
  | { locked: false; /** Why each in-radius site did not qualify. */ misses: { site: number; why: string }[] };

/**
 * The case's first rule: if the destination lies within warehouse A's service radius and A's free
 * stock covers `factor` x every ordered quantity (default 1.2), A ships everything. Among several
 * qualifying warehouses, the cheapest single shipment wins. A qualifying warehouse with no courier
 * option that fits (caps, parcel weight) cannot be locked, and the order goes to the optimiser.
 * `singles`: every site's bestSingleSitePlan when the caller has them already.
 */
export function radiusLock(p: Problem, facts: RadiusFacts[], factor: number, singles?: readonly (Plan | null)[]): RadiusLockOutcome {
  const misses: { site: number; why: string }[] = [];
  let best: { site: number; plan: Plan } | null = null;
  facts.forEach((f, site) => {
    if (f.roadKm > f.radiusKm) return;
    const short = p.lines.findIndex((l, i) => f.freePerLine[i]! < factor * l.qty);
    if (short >= 0) {
      const l = p.lines[short]!;
      misses.push({
        site,
        why: `free stock of ${l.sku} is ${f.freePerLine[short]} < ${factor} x ${l.qty} = ${+(factor * l.qty).toFixed(2)}`,
      });
      return;
    }
    const plan = singles ? singles[site]! : bestSingleSitePlan(p, site);
    if (!plan) {
      misses.push({ site, why: 'no courier can take the shipment (capacity or parcel weight)' });
      return;
    }
    if (!best || plan.objective < best.plan.objective) best = { site, plan };
  });
  return best ? { locked: true, ...(best as { site: number; plan: Plan }) } : { locked: false, misses };
}

/**
 * The old logic, for what-if comparisons (issue 6): the nearest warehouse (road km) that can ship
 * every line alone, by its cheapest courier; when none can, the greedy split (solver/greedy.ts).
 * No cost comparison between warehouses: distance decides. `singles` as for radiusLock.
 */
export function nearestPlan(p: Problem, roadKm: readonly number[], singles?: readonly (Plan | null)[]): Plan {
  const order = p.sites.map((_, s) => s).sort((a, b) => roadKm[a]! - roadKm[b]! || a - b);
  for (const site of order) {
    const plan = singles ? singles[site]! : bestSingleSitePlan(p, site);
    if (plan) return plan;
  }
  return solveGreedy(p);
}
