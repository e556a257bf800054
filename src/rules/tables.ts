import { evaluateExpressionSync, evaluateUnaryExpressionSync } from '@gorules/zen-engine';
import type { JdmGraph } from './validate.js';

/**
 * The decision tables of a validated graph, walked in this thread with every cell evaluated by
 * ZEN's own expression evaluator (its synchronous unary and expression functions): the same cell
 * language and results as ZEN's decision runner, without its asynchronous call per decision.
 * Measured here (bench/rules.ts, docs/rules.md): ZEN's decision.evaluate costs about 40 µs per
 * call before any table runs (a hand-over to its thread and back) and 60-110 µs for the bundled
 * ruleset, over the 50 µs the issue allows a decision; a cell costs 1-3 µs, and a cell that reads
 * only its column's value (`startsWith($, "RECY-")`, `"KA-1"`) is remembered per value.
 * tests/rules/engine.test.ts checks that this walk and ZEN's decision.evaluate give the same rows.
 *
 * Semantics, as ZEN's decision tables: an empty input cell matches anything; a row matches when
 * every input cell does (a cell that cannot be evaluated for the value, e.g. `> 5` on null, does
 * not match); `first` takes the first matching row, `collect` all of them, in row order; output
 * cells are expressions over the same input, an empty one sets nothing, a dotted field
 * (`params.note`) nests. A per-line table runs once per order line with {line, order, plan}.
 */

interface Cell {
  col: number;
  expr: string;
  /** Reads only `$` (its column's value): its result is remembered per value. */
  pure: boolean;
}

interface Out {
  path: string[];
  expr: string;
  /** A string literal cell's value, taken without the evaluator. */
  literal: string | null;
}

export interface FastTable {
  nodeId: string;
  hitPolicy: 'first' | 'collect';
  perLine: boolean;
  fields: string[][];
  rows: { cells: Cell[]; outs: Out[] }[];
}

/** Thrown for an output cell that fails: the engine names the row's rule. */
export class CellError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

const LITERAL = /^"([^"\\]*)"$|^'([^'\\]*)'$/;
/** A cell that names a context root reads more than its column's value. */
const READS_CONTEXT = /\b(order|line|plan|lines)\b/;
/** Remembered pure-cell results (per cell text and value); emptied when it grows past this. */
const CACHE_LIMIT = 50_000;
const pureCache = new Map<string, boolean>();

function get(ctx: Record<string, unknown>, path: readonly string[]): unknown {
  let v: unknown = ctx;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[p];
  }
  return v === undefined ? null : v;
}

function unary(cell: Cell, value: unknown, ctx: Record<string, unknown>): boolean {
  if (!cell.pure) {
    try {
      return evaluateUnaryExpressionSync(cell.expr, { ...ctx, $: value }) === true;
    } catch {
      return false;
    }
  }
  const key = `${cell.expr}\u0000${typeof value === 'string' ? value : JSON.stringify(value)}\u0000${typeof value}`;
  let hit = pureCache.get(key);
  if (hit === undefined) {
    try {
      hit = evaluateUnaryExpressionSync(cell.expr, { $: value }) === true;
    } catch {
      hit = false;
    }
    if (pureCache.size >= CACHE_LIMIT) pureCache.clear();
    pureCache.set(key, hit);
  }
  return hit;
}

/** The tables of a validated graph, ready to walk. */
export function fastTables(graph: JdmGraph): FastTable[] {
  const out: FastTable[] = [];
  for (const n of graph.nodes) {
    if (n.type !== 'decisionTableNode') continue;
    const c = n.content as {
      hitPolicy: 'first' | 'collect';
      executionMode?: string;
      inputs: { id: string; field: string }[];
      outputs: { id: string; field: string }[];
      rules: Record<string, unknown>[];
    };
    const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
    out.push({
      nodeId: n.id,
      hitPolicy: c.hitPolicy,
      perLine: c.executionMode === 'loop',
      fields: c.inputs.map((i) => i.field.split('.')),
      rows: c.rules.map((r) => ({
        cells: c.inputs.flatMap((i, col) => {
          const expr = text(r[i.id]);
          return expr === '' ? [] : [{ col, expr, pure: !READS_CONTEXT.test(expr) }];
        }),
        outs: c.outputs.flatMap((o) => {
          const expr = text(r[o.id]);
          if (expr === '') return [];
          const m = LITERAL.exec(expr);
          return [{ path: o.field.split('.'), expr, literal: m ? (m[1] ?? m[2] ?? '') : null }];
        }),
      })),
    });
  }
  return out;
}

/** The matching rows' outputs of one table for one context (`first`: at most one). */
export function walk(t: FastTable, ctx: Record<string, unknown>): Record<string, unknown>[] {
  const values = t.fields.map((f) => get(ctx, f));
  const hits: Record<string, unknown>[] = [];
  for (const row of t.rows) {
    let match = true;
    for (const cell of row.cells) {
      if (!unary(cell, values[cell.col], ctx)) {
        match = false;
        break;
      }
    }
    if (!match) continue;
    const res: Record<string, unknown> = {};
    for (const o of row.outs) {
      let v: unknown;
      if (o.literal !== null) v = o.literal;
      else {
        try {
          v = evaluateExpressionSync(o.expr, ctx);
        } catch (err) {
          const rule = row.outs.find((x) => x.path.join('.') === 'rule')?.literal ?? '?';
          throw new CellError(rule, `output ${o.path.join('.')} = ${o.expr}: ${String((err as Error).message ?? err).split('\n')[0]!.slice(0, 300)}`);
        }
      }
      let at = res;
      for (const p of o.path.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
      at[o.path[o.path.length - 1]!] = v;
    }
    hits.push(res);
    if (t.hitPolicy === 'first') break;
  }
  return hits;
}
