import { ZenEngine, type ZenDecision } from '@gorules/zen-engine';
import { DspError } from '../errors.js';
import { ACTIONS, paramsProblem, type ActionCode, type Hook } from './actions.js';
import { CellError, fastTables, walk, type FastTable } from './tables.js';
import { compileGraph, type CompiledGraph, type JdmGraph } from './validate.js';

/**
 * The rules engine (issue 20): the active version of every ruleset, compiled once, evaluated by
 * GoRules ZEN for each order at two points of the pipeline. Tables that read no plan.* field run
 * once, before the candidates are built (their before, intercept and after actions alike: none
 * of them can depend on the plan); tables that read plan.* run after the plan and before anything
 * is reserved. Nothing here does I/O: versions come from src/rules/repo.ts.
 */

export type FailMode = 'open' | 'closed';

/** What the tables see (docs/rules.md "Inputs"; the field list in fields.ts). */
export interface OrderFacts {
  orderId: string;
  customerId: string;
  customerTier: string | null;
  regionCode: string;
  regionName: string;
  provinceCode: string;
  amountCny: number;
  lineCount: number;
  units: number;
  skus: string[];
  placedAt: string;
  promisedBy: string;
  promiseHours: number;
  allowSplit: boolean;
  attributes: Record<string, unknown>;
}

export interface LineFacts {
  sku: string;
  qty: number;
  priceCny: number;
  amountCny: number;
  category: string;
  linkedCoreReturn: string | null;
}

export interface PlanFacts {
  status: string;
  warehouses: string[];
  couriers: string[];
  costCny: number;
  eta: string | null;
  late: boolean;
  lateDays: number;
  split: boolean;
  shipmentCount: number;
}

export interface RuleInput {
  order: OrderFacts;
  lines: LineFacts[];
  plan?: PlanFacts;
}

/** One action a rule fired, as the decision lists it. */
export interface FiredAction {
  ruleset: string;
  version: number;
  rule: string;
  table: string;
  hook: Hook;
  action: ActionCode;
  params: Record<string, unknown>;
  /** The order line's SKU when the rule's table runs per line; null for an order-level rule. */
  sku: string | null;
  /** False when precedence set it aside (see `note`). */
  applied: boolean;
  note?: string;
}

/** A rule (or a whole ruleset, rule null) that failed at run time. */
export interface RuleFailure {
  ruleset: string;
  version: number;
  rule: string | null;
  failMode: FailMode;
  error: string;
}

export interface RuleEvaluation {
  fired: FiredAction[];
  failed: RuleFailure[];
}

/** A ruleset version to run: what the repository's active pointer holds. */
export interface RulesetVersion {
  id: string;
  name: string;
  version: number;
  failMode: FailMode;
  graph: JdmGraph;
}

interface Loaded extends RulesetVersion {
  compiled: CompiledGraph;
  /** ZEN's own runner of the graph: the reference the in-thread walk is tested against. */
  decision: ZenDecision;
  /** The tables as the allocator walks them (src/rules/tables.ts), by node id. */
  fast: Map<string, FastTable>;
  hasPreTables: boolean;
  hasPlanTables: boolean;
}

export type Phase = 'pre' | 'post';

export class RuleEngine {
  private readonly zen = new ZenEngine();
  private sets: Loaded[] = [];
  /** Which versions run now, e.g. {"dispatch": 3}: for health, tests and the page. */
  versions: Record<string, number> = {};

  /** Compiles a graph (throws DSP_RULESET_INVALID) and readies it for the engine. */
  prepare(v: RulesetVersion): Loaded {
    const compiled = compileGraph(v.graph);
    let decision: ZenDecision;
    try {
      decision = this.zen.createDecision(compiled.graph);
    } catch (err) {
      // What the checks above let through but ZEN's own reader refuses is still the draft's fault, not a fault of the service.
      throw new DspError('DSP_RULESET_INVALID', `the decision engine refuses the graph: ${engineMessage(err)}`, [{ nodeId: null, node: null, problem: engineMessage(err) }]);
    }
    return {
      ...v,
      compiled,
      decision,
      fast: new Map(fastTables(compiled.graph).map((t) => [t.nodeId, t])),
      hasPreTables: compiled.tables.some((t) => !t.readsPlan),
      hasPlanTables: compiled.tables.some((t) => t.readsPlan),
    };
  }

  /**
   * An active version, prepared once: a reload prepares again only the rulesets whose active
   * version changed (same version, name, fail mode and graph, compared as text; an activated
   * version is never edited, but a store that was emptied and filled again may reuse a number).
   * Preparing every ruleset on every activation made an activation's cost grow with the number of
   * rulesets (87 ms each with a few hundred, in the fuzz test).
   */
  prepareActive(v: RulesetVersion): Loaded {
    const text = JSON.stringify([v.version, v.name, v.failMode, v.graph]);
    const known = this.prepared.get(v.id);
    if (known !== undefined && known.text === text) return known.loaded;
    const loaded = this.prepare(v);
    this.prepared.set(v.id, { text, loaded });
    return loaded;
  }

  private readonly prepared = new Map<string, { text: string; loaded: Loaded }>();

  /** Swaps in a new set of active versions at once (a decision in progress keeps the set it started with). */
  load(versions: readonly RulesetVersion[]): void {
    const sets = [...versions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((v) => this.prepareActive(v));
    // Rulesets no longer active are forgotten.
    const ids = new Set(sets.map((s) => s.id));
    for (const id of this.prepared.keys()) if (!ids.has(id)) this.prepared.delete(id);
    this.sets = sets;
    this.versions = Object.fromEntries(sets.map((s) => [s.id, s.version]));
  }

  get active(): boolean {
    return this.sets.length > 0;
  }

  get hasPlanRules(): boolean {
    return this.sets.some((s) => s.hasPlanTables);
  }

  /** The active sets, for a decision to use throughout (before and after its plan). */
  snapshot(): RuleSnapshot {
    return new RuleSnapshot(this.sets);
  }

  /** A snapshot of one version only (dry runs and a draft's tests). */
  only(v: RulesetVersion): RuleSnapshot {
    return new RuleSnapshot([this.prepare(v)]);
  }
}

export class RuleSnapshot {
  constructor(private readonly sets: readonly Loaded[]) {}

  get empty(): boolean {
    return this.sets.length === 0;
  }

  get hasPlanRules(): boolean {
    return this.sets.some((s) => s.hasPlanTables);
  }

  versions(): { ruleset: string; version: number }[] {
    return this.sets.map((s) => ({ ruleset: s.id, version: s.version }));
  }

  /** Runs the tables of one phase of every active ruleset; never throws for a rule's fault (it is listed in `failed`). */
  async evaluate(input: RuleInput, phase: Phase): Promise<RuleEvaluation> {
    return Promise.resolve(this.evaluateSync(input, phase));
  }

  /**
   * The tables of one phase, walked in this thread (src/rules/tables.ts): an order-level table
   * sees {order, plan}, a per-line table {line, order, plan} once per line.
   */
  evaluateSync(input: RuleInput, phase: Phase): RuleEvaluation {
    const out: RuleEvaluation = { fired: [], failed: [] };
    const plan = input.plan ?? null;
    for (const set of this.sets) {
      if (phase === 'pre' ? !set.hasPreTables : !set.hasPlanTables) continue;
      for (const t of set.compiled.tables) {
        if ((phase === 'post') !== t.readsPlan) continue;
        const table = set.fast.get(t.nodeId)!;
        try {
          if (table.perLine) {
            for (const line of input.lines) for (const row of walk(table, { line, order: input.order, plan })) this.push(out, this.fired(set, t.name, line.sku, row));
          } else {
            for (const row of walk(table, { order: input.order, plan })) this.push(out, this.fired(set, t.name, null, row));
          }
        } catch (err) {
          const rule = err instanceof CellError ? err.rule : null;
          out.failed.push({ ruleset: set.id, version: set.version, rule, failMode: set.failMode, error: engineMessage(err) });
        }
      }
    }
    return out;
  }

  private push(out: RuleEvaluation, f: FiredAction | RuleFailure): void {
    if ('error' in f) out.failed.push(f);
    else out.fired.push(f);
  }

  /** The same evaluation by ZEN's decision runner (asynchronous; the reference of tests/rules/engine.test.ts). */
  async evaluateByZen(input: RuleInput, phase: Phase): Promise<RuleEvaluation> {
    const out: RuleEvaluation = { fired: [], failed: [] };
    for (const set of this.sets) {
      if (phase === 'pre' ? !set.hasPreTables : !set.hasPlanTables) continue;
      let result: Record<string, unknown>;
      try {
        const ctx = { order: input.order, plan: input.plan ?? null, lines: input.lines.map((line) => ({ line, order: input.order, plan: input.plan ?? null })) };
        const r = await set.decision.evaluate(ctx);
        result = (r.result ?? {}) as Record<string, unknown>;
      } catch (err) {
        out.failed.push({ ruleset: set.id, version: set.version, rule: null, failMode: set.failMode, error: engineMessage(err) });
        continue;
      }
      for (const t of set.compiled.tables) {
        if ((phase === 'post') !== t.readsPlan) continue;
        const raw = result[t.nodeId];
        const perLine: [string | null, unknown][] = t.perLine
          ? (Array.isArray(raw) ? raw : []).map((r, i) => [input.lines[i]?.sku ?? null, r])
          : [[null, raw]];
        for (const [sku, hit] of perLine) {
          const rows = hit === undefined || hit === null ? [] : Array.isArray(hit) ? hit : [hit];
          for (const row of rows) {
            const f = this.fired(set, t.name, sku, row);
            if ('error' in f) out.failed.push(f);
            else out.fired.push(f);
          }
        }
      }
    }
    return out;
  }

  private fired(set: Loaded, table: string, sku: string | null, row: unknown): FiredAction | RuleFailure {
    const r = (row ?? {}) as { rule?: unknown; action?: unknown; params?: unknown };
    const rule = set.compiled.rules.get(String(r.rule));
    if (!rule) return { ruleset: set.id, version: set.version, rule: String(r.rule), failMode: set.failMode, error: `table ${table} produced a rule that was not validated` };
    const params: Record<string, unknown> = typeof r.params === 'object' && r.params !== null ? { ...(r.params as Record<string, unknown>) } : {};
    // A per-line action without its SKU parameter is about the line that fired it.
    const specParams: Record<string, unknown> = ACTIONS[rule.action].params;
    if (sku !== null && Object.hasOwn(specParams, 'sku') && params.sku === undefined) params.sku = sku;
    const problem = paramsProblem(rule.action, params);
    if (problem) return { ruleset: set.id, version: set.version, rule: rule.name, failMode: set.failMode, error: problem };
    return { ruleset: set.id, version: set.version, rule: rule.name, table, hook: ACTIONS[rule.action].hook, action: rule.action, params, sku, applied: true };
  }

  /** The fail mode of an active ruleset ('open' for one not in the snapshot). */
  failMode(ruleset: string): FailMode {
    return this.sets.find((s) => s.id === ruleset)?.failMode ?? 'open';
  }

  /** Specificity and row order of a fired rule: the precedence key (more specific first, then earlier). */
  rank(f: { ruleset: string; rule: string }): [number, number, number] {
    const si = this.sets.findIndex((s) => s.id === f.ruleset);
    const r = this.sets[si]?.compiled.rules.get(f.rule);
    return [-(r?.specificity ?? 0), si, r?.order ?? 0];
  }
}

function engineMessage(err: unknown): string {
  const text = String((err as Error)?.message ?? err);
  return text.split('\n')[0]!.slice(0, 500);
}
