import type { Plan, Problem } from './types.js';

/**
 * A problem with only some of its options, and the way back: the decision chain solves the
 * problem restricted to the options that meet the promise (then to those at most one day late,
 * and so on) and lifts the plan back to the full problem's indices. Sites left without an option
 * leave with their arcs (nothing could carry their units); pools, lines and couriers stay as they
 * are, so the restricted problem is the full one with some shipments forbidden. Pure.
 */
export interface Restricted {
  problem: Problem;
  /** Restricted site index -> full site index. */
  site: number[];
  /** Restricted option index -> full option index. */
  option: number[];
  /** Restricted arc index -> full arc index. */
  arc: number[];
}

export function restrictOptions(p: Problem, keep: (optionIndex: number) => boolean): Restricted {
  const siteOld: number[] = [];
  const siteNew = new Map<number, number>();
  const option: number[] = [];
  p.options.forEach((o, i) => {
    if (!keep(i)) return;
    option.push(i);
    if (!siteNew.has(o.site)) siteNew.set(o.site, -1);
  });
  p.sites.forEach((_, s) => {
    if (siteNew.has(s)) siteNew.set(s, siteOld.push(s) - 1);
  });
  const arc: number[] = [];
  p.arcs.forEach((a, i) => {
    if (siteNew.has(a.site)) arc.push(i);
  });
  return {
    problem: {
      ...p,
      sites: siteOld.map((s) => p.sites[s]!),
      arcs: arc.map((i) => ({ ...p.arcs[i]!, site: siteNew.get(p.arcs[i]!.site)! })),
      options: option.map((i) => ({ ...p.options[i]!, site: siteNew.get(p.options[i]!.site)! })),
    },
    site: siteOld,
    option,
    arc,
  };
}

/** A plan of the restricted problem in the full problem's indices (same objective: the same costs apply). */
export function liftPlan(r: Restricted, plan: Plan): Plan {
  return {
    shipments: plan.shipments.map((s) => ({ option: r.option[s.option]!, parcels: s.parcels, arcs: s.arcs.map((a) => ({ arc: r.arc[a.arc]!, qty: a.qty })) })),
    backordered: plan.backordered,
    objective: plan.objective,
  };
}
