/**
 * The action registry (issue 20): every code a business rule may output, documented like the
 * error codes (docs/rules.md lists the same codes; tests/rules/actions.test.ts keeps them in step).
 *
 * Each action belongs to one hook, which decides what it does to the order:
 *   before     changes the candidates the solver sees (which warehouses and couriers may ship,
 *              whether the order may split, its promise, its attributes); the solver stays generic
 *   intercept  stops the order before anything is reserved: held for review or refused, with a
 *              reason code
 *   after      an action that leaves the service after the decision (to the outbox, src/domain/actions.ts),
 *              or a note on the decision itself (WAYBILL_NOTE, TAG)
 *
 * A table's rows name the action in its `action` column and its parameters in `params.<name>`
 * columns; `params` below says which parameters each action takes (all strings or numbers, as the
 * decision table cells produce them).
 */

export type Hook = 'before' | 'intercept' | 'after';

export interface ParamSpec {
  type: 'string' | 'number';
  required: boolean;
  describe: string;
}

export interface ActionSpec {
  hook: Hook;
  /** True when the action is handed to the outbox (ActionSink) after the decision is stored. */
  outbound: boolean;
  params: Record<string, ParamSpec>;
  describe: string;
}

const str = (describe: string, required = true): ParamSpec => ({ type: 'string', required, describe });
const num = (describe: string, required = true): ParamSpec => ({ type: 'number', required, describe });

export const ACTIONS = {
  FORBID_WAREHOUSE: { hook: 'before', outbound: false, params: { warehouseId: str('The warehouse that may not ship this order nor send it transfers.') }, describe: 'The warehouse is left out of the candidates (reason RULE_FORBIDDEN_WAREHOUSE). Beats FORCE_WAREHOUSE of the same warehouse.' },
  FORCE_WAREHOUSE: { hook: 'before', outbound: false, params: { warehouseId: str('The only warehouse that may ship this order (others may still send it transfers).') }, describe: 'Only this warehouse ships the order; the others are left out of the candidates (reason RULE_FORCED_WAREHOUSE). When two rules force different warehouses, the more specific rule wins.' },
  FORBID_COURIER: { hook: 'before', outbound: false, params: { courierId: str('The courier that may not carry this order.') }, describe: 'The courier offers no option for this order. Beats FORCE_COURIER of the same courier.' },
  FORCE_COURIER: { hook: 'before', outbound: false, params: { courierId: str('The only courier that may carry this order.') }, describe: 'Only this courier offers options for this order. When two rules force different couriers, the more specific rule wins.' },
  NO_SPLIT: { hook: 'before', outbound: false, params: {}, describe: 'The order ships in one shipment at most (as allowSplit: false).' },
  SET_PROMISE: { hook: 'before', outbound: false, params: { shiftHours: num('Hours added to promisedBy (negative: earlier), -720..720.') }, describe: "Moves the order's promise before the candidates are built; the more specific rule wins when two set it." },
  SET_ATTRIBUTE: { hook: 'before', outbound: false, params: { name: str('Attribute name.'), value: str('Attribute value.') }, describe: "Records an attribute on the decision's rules section (for the ERP and the after hook's actions)." },
  HOLD_FOR_REVIEW: { hook: 'intercept', outbound: true, params: { reason: str('The reason code, e.g. RECY_NO_CORE_LINK.') }, describe: 'The order is held for a person to review: status "held", nothing reserved; counted per reason in GET /v1/kpi.' },
  REFUSE: { hook: 'intercept', outbound: true, params: { reason: str('The reason code.') }, describe: 'The order is refused: status "refused", nothing reserved. Beats HOLD_FOR_REVIEW.' },
  CORE_RETURN_TASK: { hook: 'after', outbound: true, params: { sku: str('The RECY- SKU whose old part is to be collected.', false) }, describe: 'A core-return task for after-sales: collect the old part of a remanufactured (RECY-) line.' },
  FREEZE_RECEIVABLE: { hook: 'after', outbound: true, params: { sku: str('The line whose receivable is frozen until the old part is back.', false) }, describe: 'Finance freezes the matching receivable until the core returns.' },
  WAYBILL_NOTE: { hook: 'after', outbound: true, params: { note: str('The text printed on the waybill, e.g. 请收旧件.') }, describe: 'A note printed on the waybill: on every shipment of the order, or, from a per-line table, on the shipments that carry the line.' },
  TAG: { hook: 'after', outbound: false, params: { tag: str('A label for the ERP and reports.') }, describe: "Adds a tag to the decision's rules section." },
} as const satisfies Record<string, ActionSpec>;

export type ActionCode = keyof typeof ACTIONS;

export const isActionCode = (code: string): code is ActionCode => Object.hasOwn(ACTIONS, code);

/**
 * Checks an action's parameters as a rule produced them: every required one present with its type,
 * none unknown. Returns the problem, or null when they are good.
 */
export function paramsProblem(code: ActionCode, params: Record<string, unknown>): string | null {
  const spec: Record<string, ParamSpec> = ACTIONS[code].params;
  for (const [name, p] of Object.entries(spec)) {
    const v = params[name];
    if (v === undefined || v === null) {
      if (p.required) return `${code} needs params.${name} (${p.type})`;
      continue;
    }
    if (typeof v !== p.type) return `${code} params.${name} must be a ${p.type}, got ${JSON.stringify(v)}`;
  }
  for (const name of Object.keys(params)) if (!Object.hasOwn(spec, name)) return `${code} takes no params.${name}`;
  return null;
}
