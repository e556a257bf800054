import { lateDaysOf, type Outcome } from '../../solver/chain.js';
import type { Plan } from '../../solver/types.js';
import type { Decision } from '../domain/schemas.js';
import type { Candidates } from './candidates.js';
import { planWeight, type PriceWeights } from './stages/prices.js';

type Reason = Decision['reasons'][number];

const round2 = (x: number) => Math.round(x * 100) / 100;
const km = (x: number) => x.toFixed(1);

export interface ExplainInput {
  cands: Candidates;
  /** Who answered and why (solver/chain.ts), with every site's single-shipment plan. */
  outcome: Outcome;
  radiusLockFactor: number;
  /** Shadow prices the problem carries (policy optimized): taken out of every CNY figure, shown apart. */
  weights?: PriceWeights;
}

/**
 * Reason codes (docs/reasons.md) for the chosen plan and for every warehouse not used, with the
 * money difference where an alternative exists: "why not the nearest warehouse?" must be
 * answerable from the response alone.
 */
export function explain({ cands, outcome, radiusLockFactor, weights }: ExplainInput): Reason[] {
  const { plan, mode, lock, fallbackReason } = outcome;
  // Every CNY figure below compares money and penalties only: a plan's scarcity weight (shadow
  // prices) is a decision weight, never money, so it is taken out of each objective.
  const cost = (x: Plan) => x.objective - planWeight(weights, x);
  const { problem: p, sites, optionInfo } = cands;
  const reasons: Reason[] = [];
  const chosenSites = new Set(plan.shipments.map((s) => p.options[s.option]!.site));
  // The best plan in which each site ships everything alone: the alternative every reason prices.
  const singles = outcome.singles;

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
      const what = !outcome.onTimeFirst
        ? 'the minimum-cost plan'
        : outcome.lateDays === 0
          ? 'the cheapest plan that meets the promise'
          : `the cheapest of the least late plans (no plan meets the promise; ${outcome.lateDays} day${outcome.lateDays === 1 ? '' : 's'} late)`;
      reasons.push({
        warehouseId: site.warehouse.id,
        code: mode === 'fallback' ? 'FALLBACK_PLAN' : 'LOWEST_TOTAL_COST',
        detail:
          mode === 'fallback'
            ? `greedy plan used because the exact solve did not finish: ${fallbackReason ?? 'unknown'}`
            : `part of ${what} over ${sites.length} candidate warehouses (exact MIP), courier ${info.courierId}`,
      });
    }
    if (site.dayOffset > 0) {
      reasons.push({
        warehouseId: site.warehouse.id,
        code: 'LATER_WAVE',
        detail: `ships on ${site.shipDay}'s first collection wave: its outbound parcels or the couriers' capacity are used up until then (CAPACITY_HORIZON_DAYS)`,
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
    const bestSingle = singles.reduce<Plan | null>((b, x) => (x && (!b || cost(x) < cost(b)) ? x : b), null);
    reasons.push({
      warehouseId: null,
      code: 'SPLIT',
      detail: bestSingle
        ? `${plan.shipments.length} shipments cost ${round2(cost(bestSingle) - cost(plan))} CNY less than the best single-warehouse plan`
        : `no single warehouse can ship every line in full, so the order ships in ${plan.shipments.length} parts`,
      ...(bestSingle ? { costDelta: round2(cost(bestSingle) - cost(plan)) } : {}),
    });
  }

  if (lock.locked && outcome.lockSteppedAside) {
    const site = sites[lock.site]!;
    reasons.push({
      warehouseId: site.warehouse.id,
      code: 'RADIUS_LOCK_LATE',
      detail: `destination inside the ${site.warehouse.radiusKm} km radius and free stock covers ${radiusLockFactor} x every line, but shipping from ${site.warehouse.id} arrives ${lateDaysOf(p, lock.plan)} day(s) after the promise while another plan meets it: the lock steps aside`,
    });
  }
  if (!lock.locked && mode !== 'radius-lock') {
    for (const m of lock.misses) {
      reasons.push({ warehouseId: sites[m.site]!.warehouse.id, code: 'RADIUS_LOCK_NOT_APPLIED', detail: `destination is inside the service radius but ${m.why}` });
    }
  }

  // Sites that join an open shipment (stages/open-shipments.ts) are named by the shipment they join.
  const joinOf = new Map<number, string>();
  p.options.forEach((o, k) => {
    const j = optionInfo[k]!.join;
    if (j !== undefined) joinOf.set(o.site, j.shipment.trackingNumber);
  });
  sites.forEach((site, i) => {
    if (chosenSites.has(i)) return;
    const id = site.warehouse.id;
    const alt = singles[i];
    const inRadius = site.roadKm <= site.warehouse.radiusKm;
    const joining = joinOf.has(i) ? `, joining its open shipment ${joinOf.get(i)}` : '';
    const where = `${km(site.roadKm)} road km away (${inRadius ? 'inside' : 'outside'} its ${site.warehouse.radiusKm} km radius)${joining}`;
    if (alt) {
      const delta = round2(cost(alt) - cost(plan));
      if (delta < 0 && mode === 'rule') {
        reasons.push({ warehouseId: id, code: 'POLICY_PRECEDENCE', detail: `shipping everything from ${id}, ${where}, would cost ${-delta} CNY less, but the baseline policy goes by distance`, costDelta: delta });
      } else if (delta < 0 && outcome.onTimeFirst && lateDaysOf(p, alt) > outcome.lateDays) {
        // On time first: a cheaper plan that is later was passed over; say by how much and how late.
        reasons.push({
          warehouseId: id,
          code: 'ON_TIME_PRECEDENCE',
          detail: `shipping everything from ${id}, ${where}, would cost ${-delta} CNY less but arrive ${lateDaysOf(p, alt)} day(s) after the promise`,
          costDelta: delta,
        });
      } else if (delta < 0 && weights !== undefined && mode !== 'radius-lock') {
        // Shadow prices: the alternative costs less money but uses what the rest of the day is expected to need.
        reasons.push({
          warehouseId: id,
          code: 'SCARCITY_PRECEDENCE',
          detail: `shipping everything from ${id}, ${where}, would cost ${-delta} CNY less but use stock or capacity that the rest of the day is expected to need (shadow prices)`,
          costDelta: delta,
        });
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
  const weight = planWeight(weights, plan);
  if (weights !== undefined && (weight > 0 || singles.some((x) => x !== null && planWeight(weights, x) > 0))) {
    reasons.push({
      warehouseId: null,
      code: 'SCARCITY_PRICED',
      detail: `shadow prices of scarce stock and capacity (a decision weight, not money) were added to the options' costs; the chosen plan carries ${round2(weight)} of them${mode === 'radius-lock' || mode === 'rule' ? '' : ', and a plan that uses less of what the rest of the day is expected to need may have won over a cheaper one'}`,
    });
  }
  for (const x of cands.excluded) reasons.push({ warehouseId: x.warehouseId, code: x.code, detail: x.detail });

  p.lines.forEach((l, li) => {
    // What the plan leaves, plus what the partial cap kept out of the problem (PARTIAL_CAPPED says why).
    const ordered = cands.ordered[li]!;
    const b = plan.backordered[li]! + ordered - l.qty;
    if (b > 0) reasons.push({ warehouseId: null, code: 'BACKORDERED', detail: `${b} of ${ordered} x ${l.sku} backordered: no warehouse can supply them now` });
  });
  return reasons;
}
