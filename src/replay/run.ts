import type { Config } from '../config.js';
import { toIsoWithOffset } from '../domain/time.js';
import type { NetworkContext } from '../network/context.js';
import type { Solver } from '../solve/pool.js';
import type { StatusMachine } from '../domain/scan-states.js';
import { replayPolicy, scenarioEventStream, type Policy, type PolicyReport } from './engine.js';
import { clairvoyant, type ClairvoyantReport, type ClairvoyantResult } from './clairvoyant.js';
import { hindsightBound, type HindsightBound } from './hindsight.js';
import type { Scenario, ScenarioEvent } from './scenario.js';

/**
 * One replay from scenario to report data, shared by the CLI and the replay jobs: every policy
 * on the same streamed events, the optional per-order hindsight bound, the clairvoyant result
 * when one is given (the whole-stream model, src/replay/clairvoyant.ts), the gap each policy
 * captures, and the scenario's events for the time axes.
 */

export type { ClairvoyantResult };

/** The clairvoyant model's figures as a report keeps them (its plans left out). */
export type ClairvoyantSummary = Omit<ClairvoyantReport, 'plans' | 'inputs'>;

export interface ReplayHindsight {
  /** Money per order of the hindsight plans over all orders (the clairvoyant plan when given). */
  costPerOrder: number | null;
  onTimeRate: number | null;
  /** The clairvoyant LP bound, money per order; null until the whole-stream model is given. */
  lpBound: number | null;
  /** The per-order relaxation (src/replay/hindsight.ts), when computed. */
  perOrder: HindsightBound | null;
  /** Every figure of the whole-stream model (src/replay/clairvoyant.ts), when computed in this run. */
  clairvoyant?: ClairvoyantSummary | null;
}

/** A scenario event that changes the world, for the report's time axes. */
export interface ReplayMarker {
  /** ISO-8601 with offset. */
  at: string;
  label: string;
}

export interface ReplayResult {
  scenario: string;
  orders: number;
  policies: Record<string, PolicyReport>;
  hindsight: ReplayHindsight | null;
  events: ReplayMarker[];
}

/** The policy whose decisions are the myopic reference of gapCaptured (issue 17 adds `myopic`). */
export const MYOPIC_REFERENCE: Policy = 'myopic';

/**
 * Share of the myopic -> clairvoyant money gap a policy captures: (C_myopic − C_P) /
 * (C_myopic − C_clairvoyant), C money per order over all orders, C_clairvoyant the clairvoyant
 * plan's (its LP bound when no plan is given). Null without a clairvoyant result, without the
 * myopic reference among the policies, or when the gap is not positive.
 */
export function gapCaptured(policies: Record<string, PolicyReport>, clairvoyant: ClairvoyantResult | null, reference: string = MYOPIC_REFERENCE): Record<string, number | null> {
  const myopic = policies[reference];
  const target = clairvoyant?.costPerOrder ?? clairvoyant?.lpBound ?? null;
  const out: Record<string, number | null> = {};
  for (const [name, p] of Object.entries(policies)) {
    const gap = myopic && target !== null ? myopic.costPerOrder - target : 0;
    out[name] = myopic && target !== null && gap > 1e-9 ? Math.round(((myopic.costPerOrder - p.costPerOrder) / gap) * 10_000) / 10_000 : null;
  }
  return out;
}

/** The world-changing events of a scenario (not orders), for the time axes, in local time; receipts summed per hour. */
export function scenarioMarkers(scenario: Scenario, fileEvents: ScenarioEvent[], tzMinutes: number): ReplayMarker[] {
  const local = (iso: string) => toIsoWithOffset(Date.parse(iso), tzMinutes);
  const out: ReplayMarker[] = [];
  const receipts = new Map<string, number>();
  for (const e of [...(scenario.events ?? []), ...fileEvents]) {
    if (e.type === 'capacity') {
      const parcels = e.parcels === undefined ? '' : ` ${e.parcels ?? 'unlimited'} parcels`;
      const kg = e.kg === undefined ? '' : ` ${e.kg ?? 'unlimited'} kg`;
      out.push({ at: local(e.at), label: `${e.courierId} capacity${parcels}${kg} (${e.provinceCodes.join(', ')})` });
    } else if (e.type === 'closure') out.push({ at: local(e.at), label: `${e.warehouseId} closed until ${local(e.until).slice(5, 16).replace('T', ' ')}` });
    else if (e.type === 'receipt') {
      const hour = `${local(e.at).slice(0, 13)}:00:00${local(e.at).slice(19)}`;
      receipts.set(hour, (receipts.get(hour) ?? 0) + 1);
    }
  }
  for (const c of scenario.overrides?.closures ?? []) out.push({ at: local(c.from), label: `${c.warehouseId} closed until ${local(c.to).slice(5, 16).replace('T', ' ')}` });
  for (const f of scenario.overrides?.courierCapacity ?? []) out.push({ at: local(f.from), label: `${f.courierId} capacity × ${f.factor} (${f.provinceCodes.join(', ')})` });
  for (const [hour, n] of receipts) out.push({ at: hour, label: `${n} receipt${n === 1 ? '' : 's'}` });
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export interface RunOptions {
  net: NetworkContext;
  config: Config;
  solver: Solver;
  machine: StatusMachine;
  /** Compute the per-order hindsight bound (needs every event in memory: small scenarios only). */
  hindsight: boolean;
  /** A clairvoyant result computed elsewhere (its three figures), for gapCaptured. */
  clairvoyant?: ClairvoyantResult | null;
  /**
   * Compute the whole-stream clairvoyant model on this run's events (src/replay/clairvoyant.ts;
   * every event in memory and HiGHS for up to a minute a day: a CLI option, off by default).
   */
  clairvoyantModel?: { mipTimeLimitMs: number; lateDayWeight: number } | null;
  onProgress?: (stage: string, done: number, total: number) => void;
  /** Run the re-optimisation job every this many ms of simulated time in each policy's replay; 0 or absent: not run. */
  reoptimizeIntervalMs?: number;
}

export async function runReplay(scenario: Scenario, fileEvents: ScenarioEvent[], policies: readonly Policy[], opts: RunOptions): Promise<ReplayResult> {
  const stream = scenarioEventStream(scenario, fileEvents, opts.net);
  const out: Record<string, PolicyReport> = {};
  for (const policy of policies) {
    out[policy] = await replayPolicy(scenario, stream, policy, {
      net: opts.net,
      config: opts.config,
      solver: opts.solver,
      machine: opts.machine,
      onProgress: (done, total) => opts.onProgress?.(policy, done, total),
      ...(opts.reoptimizeIntervalMs ? { reoptimizeIntervalMs: opts.reoptimizeIntervalMs } : {}),
    });
  }
  const orders = out[policies[0]!]?.orders ?? 0;
  let perOrder: HindsightBound | null = null;
  if (opts.hindsight) perOrder = await hindsightBound([...stream], opts.net, opts.config, opts.solver, (done, total) => opts.onProgress?.('hindsight', done, total));
  let summary: ClairvoyantSummary | null = null;
  if (opts.clairvoyantModel) {
    const { plans: _plans, inputs: _inputs, ...rest } = await clairvoyant(scenario, [...stream], opts.net, opts.config, opts.solver, { ...opts.clairvoyantModel, onProgress: opts.onProgress });
    summary = rest;
  }
  const clair: ClairvoyantResult | null = summary ? { lpBound: summary.lpBound, costPerOrder: summary.costPerOrder, onTimeRate: summary.onTimeRate } : (opts.clairvoyant ?? null);
  const gaps = gapCaptured(out, clair);
  for (const [name, p] of Object.entries(out)) p.gapCaptured = gaps[name] ?? null;
  const hindsight: ReplayHindsight | null =
    clair || perOrder
      ? {
          costPerOrder: clair?.costPerOrder ?? perOrder?.moneyPerOrder ?? null,
          onTimeRate: clair?.onTimeRate ?? null,
          lpBound: clair?.lpBound ?? null,
          perOrder,
          clairvoyant: summary,
        }
      : null;
  return { scenario: scenario.name, orders, policies: out, hindsight, events: scenarioMarkers(scenario, fileEvents, opts.config.timezoneOffsetMinutes) };
}
