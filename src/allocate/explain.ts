import { bestSingleSitePlans } from '../../solver/single.js';
import type { RadiusLockOutcome } from '../../solver/rules.js';
import type { Plan } from '../../solver/types.js';
import type { Decision } from '../domain/schemas.js';
import type { Candidates } from './candidates.js';

type Reason = Decision['reasons'][number];

const round2 = (x: number) => Math.round(x * 100) / 100;
const km = (x: number) => x.toFixed(1);

export interface ExplainInput {
  cands: Candidates;
  plan: Plan;
  mode: Decision['mode'];
  lock: RadiusLockOutcome;
  radiusLockFactor: number;
  fallbackReason?: string;
  /** Every site's best single-site plan (solver/single.ts), when the caller has them already. */
  singles?: readonly (Plan | null)[];
}

/**
 * Reason codes (docs/reasons.md) for the chosen plan and for every warehouse not used, with the
 * money difference where an alternative exists: "why not the nearest warehouse?" must be
 * answerable from the response alone.
 */
export function explain({ cands, plan, mode, lock, radiusLockFactor, fallbackReason, singles: given }: ExplainInput): Reason[] {
  const { problem: p, sites, optionInfo } = cands;
  const reasons: Reason[] = [];
  const chosenSites = new Set(plan.shipments.map((s) => p.options[s.option]!.site));
  // The best plan in which each site ships everything alone: the alternative every reason prices.
  const singles = given ?? bestSingleSitePlans(p);

  for (const s of plan.shipments) {
    const o = p.options[s.option]!;
    const site = sites[o.site]!;
    const info = optionInfo[s.option]!;
    if (mode === 'radius-lock') {
      reasons.push({
        warehouseId: site.warehouse.id,
        code: 'RADIUS_LOCK',
        detail: `destination ${km(site.roadKm)} road km away, inside the ${site.warehouse.radiusKm} km service radius, and free stock covers ${radiusLockFactor} x every line; ships all by ${info.courierId}`,
      });
    } else if (mode === 'rule') {
      reasons.push({
        warehouseId: site.warehouse.id,
        code: 'NEAREST_WAREHOUSE',
        detail: `baseline policy (ALLOCATION_POLICY): the nearest warehouse that can ship everything, ${km(site.roadKm)} road km away, courier ${info.courierId}; cost not compared`,
      });
    } else {
      reasons.push({
        warehouseId: site.warehouse.id,
        code: mode === 'fallback' ? 'FALLBACK_PLAN' : 'LOWEST_TOTAL_COST',
        detail:
          mode === 'fallback'
            ? `greedy plan used because the exact solve did not finish: ${fallbackReason ?? 'unknown'}`
            : `part of the minimum-cost plan over ${sites.length} candidate warehouses (exact MIP), courier ${info.courierId}`,
      });
    }
    if (info.hoursLate > 0) {
      reasons.push({ warehouseId: site.warehouse.id, code: 'LATE', detail: `ETA ${info.hoursLate.toFixed(1)} h after promisedBy; lateness penalty included in the cost` });
    }
    const transfers = s.arcs.filter(({ arc }) => p.arcs[arc]!.transfer);
    if (transfers.length > 0) {
      const what = transfers.map(({ arc, qty }) => `${qty} x ${cands.arcInfo[arc]!.sku} from ${cands.arcInfo[arc]!.fromWarehouseId}`);
      reasons.push({ warehouseId: site.warehouse.id, code: 'TRANSFER_USED', detail: `line-haul transfer into ${site.warehouse.id} before shipping: ${what.join(', ')}` });
    }
  }

  if (plan.shipments.length > 1) {
    const bestSingle = singles.reduce<Plan | null>((b, x) => (x && (!b || x.objective < b.objective) ? x : b), null);
    reasons.push({
      warehouseId: null,
      code: 'SPLIT',
      detail: bestSingle
        ? `${plan.shipments.length} shipments cost ${round2(bestSingle.objective - plan.objective)} CNY less than the best single-warehouse plan`
        : `no single warehouse can ship every line in full, so the order ships in ${plan.shipments.length} parts`,
      ...(bestSingle ? { costDelta: round2(bestSingle.objective - plan.objective) } : {}),
    });
  }

  if (!lock.locked && mode !== 'radius-lock') {
    for (const m of lock.misses) {
      reasons.push({ warehouseId: sites[m.site]!.warehouse.id, code: 'RADIUS_LOCK_NOT_APPLIED', detail: `destination is inside the service radius but ${m.why}` });
    }
  }

  sites.forEach((site, i) => {
    if (chosenSites.has(i)) return;
    const id = site.warehouse.id;
    const alt = singles[i];
    const inRadius = site.roadKm <= site.warehouse.radiusKm;
    const where = `${km(site.roadKm)} road km away (${inRadius ? 'inside' : 'outside'} its ${site.warehouse.radiusKm} km radius)`;
    if (alt) {
      const delta = round2(alt.objective - plan.objective);
      if (delta < 0 && mode === 'rule') {
        reasons.push({ warehouseId: id, code: 'POLICY_PRECEDENCE', detail: `shipping everything from ${id}, ${where}, would cost ${-delta} CNY less, but the baseline policy goes by distance`, costDelta: delta });
      } else if (delta < 0 && mode === 'radius-lock') {
        // The rule, not the cost model, chose: say what it costs to follow it.
        reasons.push({
          warehouseId: id,
          code: 'RADIUS_LOCK_PRECEDENCE',
          detail: `shipping everything from ${id}, ${where}, would cost ${-delta} CNY less, but the radius lock takes precedence`,
          costDelta: delta,
        });
      } else {
        reasons.push({ warehouseId: id, code: 'COST_HIGHER_BY', detail: `shipping everything from ${id}, ${where}, would cost ${delta} CNY more`, costDelta: delta });
      }
    } else {
      const short = p.lines
        .map((l, li) => ({ l, free: cands.facts[i]!.freePerLine[li]! }))
        .filter((x) => x.free < x.l.qty)
        .map((x) => `${x.l.sku} ${x.free}/${x.l.qty}`);
      reasons.push({
        warehouseId: id,
        code: short.length > 0 ? 'INSUFFICIENT_STOCK' : 'NO_FITTING_COURIER',
        detail: short.length > 0 ? `cannot ship every line alone, ${where}; free/ordered: ${short.join(', ')}` : `no courier has the parcels or kilograms left to take the whole order from ${id}`,
      });
    }
  });
  for (const x of cands.excluded) reasons.push({ warehouseId: x.warehouseId, code: x.code, detail: x.detail });

  p.lines.forEach((l, li) => {
    const b = plan.backordered[li]!;
    if (b > 0) reasons.push({ warehouseId: null, code: 'BACKORDERED', detail: `${b} of ${l.qty} x ${l.sku} backordered: no warehouse can supply them now` });
  });
  return reasons;
}
