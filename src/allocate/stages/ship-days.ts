import type { Problem, ProblemCourier } from '../../../solver/types.js';
import type { Warehouse } from '../../domain/network.js';
import { DAY_MS, localDay } from '../../domain/time.js';
import { waveAtOrAfter } from '../../domain/waves.js';
import type { CandidateConfig, CandidateContext } from './context.js';
import { courierCaps } from './couriers.js';

/** The local days (YYYY-MM-DD) of the capacity horizon, today first: CAPACITY_HORIZON_DAYS of them. */
export function horizonDays(nowMs: number, cfg: Pick<CandidateConfig, 'capacityHorizonDays' | 'timezoneOffsetMinutes'>): string[] {
  return Array.from({ length: cfg.capacityHorizonDays }, (_x, k) => localDay(nowMs + k * DAY_MS, cfg.timezoneOffsetMinutes));
}

/** Local midnight (epoch ms) of a local day. */
function dayStartMs(day: string, tzMinutes: number): number {
  return Date.parse(`${day}T00:00:00Z`) - tzMinutes * 60_000;
}

/**
 * Stage "capacity over days", the couriers' side: a later day's courier capacity as problem
 * couriers of their own. They are added to the problem only when a site first ships on that day
 * (so an order that fits today has the same problem as before), after today's, one per network
 * courier, with the room each courier has left on that day. To the solver they are more couriers:
 * a shipment on day k uses the capacity of day k, and the solver stays generic.
 */
export function laterDays(ctx: CandidateContext, problem: Problem) {
  const offset = new Map<number, number>();
  const capsOf = new Map<number, ProblemCourier[]>();
  const caps = (k: number): ProblemCourier[] => {
    let c = capsOf.get(k);
    if (c === undefined) {
      c = courierCaps(ctx, ctx.days[k]!);
      capsOf.set(k, c);
    }
    return c;
  };
  const courierIndex = (k: number) => (ci: number) => {
    let base = offset.get(k);
    if (base === undefined) {
      base = problem.couriers.length;
      offset.set(k, base);
      problem.couriers.push(...caps(k).map((c) => ({ ...c })));
    }
    return base + ci;
  };
  return {
    caps,
    shipDay: (k: number, w: Warehouse) => ({
      day: ctx.days[k]!,
      firstWaveMs: waveAtOrAfter(dayStartMs(ctx.days[k]!, ctx.cfg.timezoneOffsetMinutes), w, ctx.cfg.timezoneOffsetMinutes),
      courierIndex: courierIndex(k),
    }),
  };
}
