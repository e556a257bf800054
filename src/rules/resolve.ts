import type { FiredAction, RuleEvaluation, RuleFailure, RuleSnapshot } from './engine.js';

/**
 * What the fired rules do to one order, after precedence (docs/rules.md, "Precedence"):
 *
 *   1. forbid beats force: a FORCE_WAREHOUSE (FORCE_COURIER) of a warehouse (courier) that some
 *      rule forbids is set aside;
 *   2. the more specific rule wins: of two rules forcing different warehouses (couriers), setting
 *      the promise or the same attribute, the one with more conditions (non-empty input cells)
 *      applies; between equally specific rules, the earlier one (ruleset id order, then row order);
 *   3. REFUSE beats HOLD_FOR_REVIEW; a failClosed ruleset that failed holds the order
 *      (RULESET_FAILED) unless it is refused anyway.
 *
 * Set-aside actions stay listed in the decision with applied: false and a note.
 */
export interface RuleEffects {
  forbidWarehouses: Set<string>;
  forceWarehouse: string | null;
  forbidCouriers: Set<string>;
  forceCourier: string | null;
  noSplit: boolean;
  /** Hours added to promisedBy (0: unchanged). */
  promiseShiftHours: number;
  attributes: Record<string, string>;
  intercept: { action: 'HOLD_FOR_REVIEW' | 'REFUSE'; reason: string; ruleset: string; version: number; rule: string | null } | null;
  /** Waybill notes: on the shipments carrying `sku`, or on every shipment when null. */
  notes: { note: string; sku: string | null }[];
  tags: string[];
}

export interface Known {
  warehouses: ReadonlySet<string>;
  couriers: ReadonlySet<string>;
}

export function noEffects(): RuleEffects {
  return { forbidWarehouses: new Set(), forceWarehouse: null, forbidCouriers: new Set(), forceCourier: null, noSplit: false, promiseShiftHours: 0, attributes: {}, intercept: null, notes: [], tags: [] };
}

/**
 * Applies precedence to a phase's evaluation, adding to `fx`. A rule naming a warehouse or courier
 * the network does not have fails at run time (listed in `ev.failed`, never silently dropped).
 */
export function resolve(ev: RuleEvaluation, snap: RuleSnapshot, known: Known, fx: RuleEffects = noEffects()): RuleEffects {
  const bySpecificity = (a: FiredAction, b: FiredAction) => {
    const ra = snap.rank(a);
    const rb = snap.rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  };
  const failures: RuleFailure[] = [];
  const usable = ev.fired.filter((f) => {
    const id = f.params.warehouseId ?? f.params.courierId;
    const bad =
      (f.action === 'FORCE_WAREHOUSE' || f.action === 'FORBID_WAREHOUSE') && !known.warehouses.has(String(id))
        ? `unknown warehouse ${JSON.stringify(id)}`
        : (f.action === 'FORCE_COURIER' || f.action === 'FORBID_COURIER') && !known.couriers.has(String(id))
          ? `unknown courier ${JSON.stringify(id)}`
          : f.action === 'SET_PROMISE' && Math.abs(Number(f.params.shiftHours)) > 720
            ? `SET_PROMISE shiftHours ${String(f.params.shiftHours)} is outside -720..720`
            : null;
    if (bad === null) return true;
    f.applied = false;
    f.note = bad;
    failures.push({ ruleset: f.ruleset, version: f.version, rule: f.rule, failMode: snap.failMode(f.ruleset), error: bad });
    return false;
  });
  // A rule that failed is no longer among the fired ones that apply.
  ev.fired = ev.fired.filter((f) => f.applied);
  ev.failed.push(...failures);

  for (const f of usable) {
    if (f.action === 'FORBID_WAREHOUSE') fx.forbidWarehouses.add(String(f.params.warehouseId));
    if (f.action === 'FORBID_COURIER') fx.forbidCouriers.add(String(f.params.courierId));
    if (f.action === 'NO_SPLIT') fx.noSplit = true;
    if (f.action === 'TAG' && !fx.tags.includes(String(f.params.tag))) fx.tags.push(String(f.params.tag));
    if (f.action === 'WAYBILL_NOTE') fx.notes.push({ note: String(f.params.note), sku: f.sku });
  }
  const pick = (action: FiredAction['action'], forbidden: ReadonlySet<string> | null, param: string): FiredAction | null => {
    const cands = usable.filter((f) => f.action === action).sort(bySpecificity);
    let winner: FiredAction | null = null;
    for (const f of cands) {
      const value = String(f.params[param]);
      if (forbidden?.has(value)) {
        f.applied = false;
        f.note = `forbidden by another rule (forbid beats force)`;
      } else if (winner === null) winner = f;
      else if (String(winner.params[param]) !== value) {
        f.applied = false;
        f.note = `set aside for the more specific rule ${JSON.stringify(winner.rule)}`;
      }
    }
    return winner;
  };
  const fw = pick('FORCE_WAREHOUSE', fx.forbidWarehouses, 'warehouseId');
  if (fw) fx.forceWarehouse = String(fw.params.warehouseId);
  const fc = pick('FORCE_COURIER', fx.forbidCouriers, 'courierId');
  if (fc) fx.forceCourier = String(fc.params.courierId);
  const sp = pick('SET_PROMISE', null, 'shiftHours');
  if (sp) fx.promiseShiftHours = Number(sp.params.shiftHours);
  const attrs = usable.filter((f) => f.action === 'SET_ATTRIBUTE').sort(bySpecificity);
  for (const f of attrs) {
    const name = String(f.params.name);
    if (Object.hasOwn(fx.attributes, name)) {
      f.applied = false;
      f.note = `attribute ${name} set by a more specific rule`;
    } else fx.attributes[name] = String(f.params.value);
  }
  const refuse = pick('REFUSE', null, 'reason');
  const hold = pick('HOLD_FOR_REVIEW', null, 'reason');
  const winner = refuse ?? hold;
  if (winner && (fx.intercept === null || (fx.intercept.action === 'HOLD_FOR_REVIEW' && winner.action === 'REFUSE'))) {
    fx.intercept = { action: winner.action as 'HOLD_FOR_REVIEW' | 'REFUSE', reason: String(winner.params.reason), ruleset: winner.ruleset, version: winner.version, rule: winner.rule };
  }
  if (refuse && hold) {
    for (const f of usable) if (f.action === 'HOLD_FOR_REVIEW') {
      f.applied = false;
      f.note = 'the order is refused (REFUSE beats HOLD_FOR_REVIEW)';
    }
  }
  const closed = ev.failed.find((f) => f.failMode === 'closed');
  if (closed && fx.intercept === null) {
    fx.intercept = { action: 'HOLD_FOR_REVIEW', reason: 'RULESET_FAILED', ruleset: closed.ruleset, version: closed.version, rule: closed.rule };
  }
  return fx;
}
