/**
 * Exact brute-force solver for tiny problems, used only to validate the HiGHS reference model.
 *
 * It shares no code with the MIP: it enumerates, for every site, "closed" or one of its options,
 * and then every integer allocation of units to the arcs that the chosen options may use, checks
 * every rule of the specification directly and keeps the cheapest plan. It is exponential and
 * meant for 1–2 lines, 2–3 sites, 2 couriers and quantities of a few units.
 */
import type { Plan, Problem } from '../../solver/types.js';

const TOL = 1e-6;

/** max(1, ceil(weight / limit)), with a 1e-9 allowance for floating-point sums of 2-decimal weights. */
function parcelCount(weightKg: number, parcelMaxKg: number | null): number {
  return parcelMaxKg === null ? 1 : Math.max(1, Math.ceil(weightKg / parcelMaxKg - 1e-9));
}

export interface BruteForceResult {
  objective: number;
  plan: Plan;
  /** How many complete allocations were evaluated, to keep an eye on the enumeration size. */
  leaves: number;
}

/**
 * `lexicographic`: rank plans on time first, as the decision chain does (units backordered, then
 * the latest open option's `late` days, then the objective) instead of by the objective alone.
 */
export function bruteForce(p: Problem, maxLeaves = 20_000_000, opts: { lexicographic?: boolean } = {}): BruteForceResult {
  const optionsBySite: number[][] = p.sites.map(() => []);
  for (const [o, option] of p.options.entries()) optionsBySite[option.site]?.push(o);

  let best: { objective: number; backorder: number; late: number; chosen: number[]; x: number[] } | undefined;
  const better = (backorder: number, late: number, cost: number): boolean => {
    if (best === undefined) return true;
    if (opts.lexicographic) {
      if (backorder !== best.backorder) return backorder < best.backorder;
      if (late !== best.late) return late < best.late;
    }
    return cost < best.objective - 1e-9;
  };
  let leaves = 0;
  const chosen: number[] = new Array<number>(p.sites.length).fill(-1);

  // Evaluates every allocation for the current choice of open options.
  const evaluateChoice = (): void => {
    const open = chosen.filter((o) => o >= 0);
    if (!p.allowSplit && open.length > 1) return;
    // Every open shipment is at least one parcel, so a choice that already breaks a parcel cap
    // with one parcel per shipment can be skipped without enumerating its allocations.
    const minParcels = new Array<number>(p.couriers.length).fill(0);
    for (const o of open) {
      const c = p.options[o]?.courier ?? -1;
      minParcels[c] = (minParcels[c] ?? 0) + 1;
    }
    for (const [c, courier] of p.couriers.entries()) {
      if (courier.parcelCap !== null && (minParcels[c] ?? 0) > courier.parcelCap) return;
    }
    for (const [s, site] of p.sites.entries()) {
      if ((chosen[s] ?? -1) >= 0 && site.parcelCap !== null && site.parcelCap < 1) return;
    }

    // The arcs that the open options may carry: the site's own arcs, and transfer arcs only
    // when the site's open option waits for transfers.
    const active: number[] = [];
    for (const [a, arc] of p.arcs.entries()) {
      const o = chosen[arc.site] ?? -1;
      if (o < 0) continue;
      const option = p.options[o];
      if (option === undefined) continue;
      if (arc.transfer && !option.transfer) continue;
      active.push(a);
    }

    const x = new Array<number>(p.arcs.length).fill(0);
    const lineLeft = p.lines.map((l) => l.qty);
    const poolLeft = p.pools.map((q) => q.qty);

    const leaf = (): void => {
      leaves++;
      if (leaves > maxLeaves) throw new Error(`brute force exceeded ${maxLeaves} allocations`);
      // Per open option: units, weight, arc costs.
      const units = new Array<number>(p.sites.length).fill(0);
      const weight = new Array<number>(p.sites.length).fill(0);
      let arcCost = 0;
      for (const a of active) {
        const q = x[a] ?? 0;
        if (q === 0) continue;
        const arc = p.arcs[a];
        const line = arc === undefined ? undefined : p.lines[arc.line];
        if (arc === undefined || line === undefined) continue;
        units[arc.site] = (units[arc.site] ?? 0) + q;
        weight[arc.site] = (weight[arc.site] ?? 0) + q * line.unitWeightKg;
        arcCost += q * arc.unitCost;
      }
      const courierKg = new Array<number>(p.couriers.length).fill(0);
      const courierParcels = new Array<number>(p.couriers.length).fill(0);
      let cost = arcCost;
      for (const [s, o] of chosen.entries()) {
        if (o < 0) continue;
        const option = p.options[o];
        const site = p.sites[s];
        if (option === undefined || site === undefined) return;
        // An open option must carry something; the same choice with this site closed is
        // enumerated separately and covers the empty case.
        if ((units[s] ?? 0) === 0) return;
        const w = weight[s] ?? 0;
        const parcels = parcelCount(w, option.parcelMaxKg);
        if (site.parcelCap !== null && parcels > site.parcelCap) return;
        courierKg[option.courier] = (courierKg[option.courier] ?? 0) + w;
        courierParcels[option.courier] = (courierParcels[option.courier] ?? 0) + parcels;
        cost += option.fixedCost + option.perParcel * parcels + option.perKg * w;
      }
      for (const [c, courier] of p.couriers.entries()) {
        if (courier.kgCap !== null && (courierKg[c] ?? 0) > courier.kgCap + TOL) return;
        if (courier.parcelCap !== null && (courierParcels[c] ?? 0) > courier.parcelCap) return;
      }
      cost += p.splitPenalty * Math.max(0, open.length - 1);
      let backorder = 0;
      for (const left of lineLeft) {
        cost += p.backorderPenalty * left;
        backorder += left;
      }
      const late = open.reduce((m, o) => Math.max(m, p.options[o]?.late ?? 0), 0);
      if (better(backorder, late, cost)) best = { objective: cost, backorder, late, chosen: chosen.slice(), x: x.slice() };
    };

    // Depth-first over active arcs; each arc takes 0..min(line left, pool left) units, and
    // whatever a line does not receive is backordered.
    const dfs = (i: number): void => {
      if (i === active.length) {
        leaf();
        return;
      }
      const a = active[i] as number;
      const arc = p.arcs[a];
      if (arc === undefined) return;
      const max = Math.min(lineLeft[arc.line] ?? 0, poolLeft[arc.pool] ?? 0);
      for (let q = 0; q <= max; q++) {
        x[a] = q;
        lineLeft[arc.line] = (lineLeft[arc.line] ?? 0) - q;
        poolLeft[arc.pool] = (poolLeft[arc.pool] ?? 0) - q;
        dfs(i + 1);
        lineLeft[arc.line] = (lineLeft[arc.line] ?? 0) + q;
        poolLeft[arc.pool] = (poolLeft[arc.pool] ?? 0) + q;
      }
      x[a] = 0;
    };
    dfs(0);
  };

  const chooseSite = (s: number): void => {
    if (s === p.sites.length) {
      evaluateChoice();
      return;
    }
    chosen[s] = -1;
    chooseSite(s + 1);
    for (const o of optionsBySite[s] ?? []) {
      chosen[s] = o;
      chooseSite(s + 1);
    }
    chosen[s] = -1;
  };
  chooseSite(0);

  if (best === undefined) throw new Error('brute force found no plan (the all-backorder plan should always exist)');
  const found = best;
  const shipments = found.chosen
    .filter((o) => o >= 0)
    .map((o) => {
      const arcs = p.arcs
        .map((arc, a) => ({ arc: a, site: arc.site, qty: found.x[a] ?? 0 }))
        .filter((e) => e.site === p.options[o]?.site && e.qty > 0)
        .map(({ arc, qty }) => ({ arc, qty }));
      let weight = 0;
      for (const e of arcs) weight += e.qty * (p.lines[p.arcs[e.arc]?.line ?? -1]?.unitWeightKg ?? 0);
      return { option: o, parcels: parcelCount(weight, p.options[o]?.parcelMaxKg ?? null), arcs };
    });
  const shipped = p.lines.map(() => 0);
  for (const [a, arc] of p.arcs.entries()) shipped[arc.line] = (shipped[arc.line] ?? 0) + (found.x[a] ?? 0);
  const backordered = p.lines.map((l, i) => l.qty - (shipped[i] ?? 0));
  return { objective: found.objective, plan: { shipments, backordered, objective: found.objective }, leaves };
}
