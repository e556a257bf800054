import { evaluateExpressionSync, evaluateUnaryExpressionSync } from '@gorules/zen-engine';
import { DspError } from '../errors.js';
import { ACTIONS, isActionCode, type ActionCode, type Hook } from './actions.js';
import { fieldScope } from './fields.js';

/**
 * Validation of a ruleset's JSON Decision Model (GoRules JDM) on save (issue 20, item 7). Only
 * what business users can read is accepted: one input node, one output node, and decision tables
 * between them (hit policy `first` or `collect`), every table wired from the input and to the
 * output. A node that runs code (functionNode, customNode), an expression or switch node, a
 * sub-decision and any unknown node type are refused, as are malformed cells, unknown input
 * fields and unknown action codes: 422 DSP_RULESET_INVALID, each problem naming its node.
 *
 * Each table has an `action` output column (a string literal from the action registry), a `rule`
 * output column (the rule's name, a string literal, unique in the ruleset: what decisions list),
 * and `params.<name>` output columns for the actions' parameters (ZEN expressions).
 */

export interface JdmNode {
  id: string;
  type: string;
  name: string;
  content?: unknown;
  [k: string]: unknown;
}

export interface JdmGraph {
  nodes: JdmNode[];
  edges: { id: string; sourceId: string; targetId: string; [k: string]: unknown }[];
  [k: string]: unknown;
}

/** One rule (a table row) as the engine needs to know it after evaluation. */
export interface CompiledRule {
  /** The rule's name (its `rule` cell). */
  name: string;
  table: string;
  action: ActionCode;
  /** Non-empty input cells: how specific the rule is (the more specific rule wins a conflict). */
  specificity: number;
  /** Row order in the ruleset: the tie-break between equally specific rules (earlier wins). */
  order: number;
}

export interface CompiledTable {
  nodeId: string;
  name: string;
  hitPolicy: 'first' | 'collect';
  /** Reads line.* fields: runs once per order line. */
  perLine: boolean;
  /** Reads plan.* fields: runs after the plan is known. */
  readsPlan: boolean;
}

export interface CompiledGraph {
  /** The graph as stored, normalised (outputPath and execution mode set by the service). */
  graph: JdmGraph;
  tables: CompiledTable[];
  rules: Map<string, CompiledRule>;
}

export interface Problem {
  nodeId: string | null;
  node: string | null;
  problem: string;
}

/** Node types that run code: refused with their own wording. */
const CODE_NODES = new Set(['functionNode', 'customNode']);
/** Node types of the engine that this service does not accept (tables only). */
const OTHER_ENGINE_NODES = new Set(['expressionNode', 'switchNode', 'decisionNode']);
/** Most rows a ruleset may hold: a bound on work per decision and on a stored version's size. */
export const MAX_RULES = 2_000;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const STRING_LITERAL = /^"([^"\\]*)"$|^'([^'\\]*)'$/;

function literal(cell: unknown): string | null {
  if (typeof cell !== 'string') return null;
  const m = STRING_LITERAL.exec(cell.trim());
  return m ? (m[1] ?? m[2] ?? '') : null;
}

/** The parser's verdict on a cell: a message when it cannot be parsed, null when it can (runtime errors are not syntax errors). */
function syntaxProblem(cell: string, unary: boolean): string | null {
  try {
    if (unary) evaluateUnaryExpressionSync(cell, { $: null });
    else evaluateExpressionSync(cell, {});
    return null;
  } catch (err) {
    const text = String((err as Error).message ?? err);
    const m = /"type":"(parserError|lexerError)"(?:,"source":"([^"]*)")?/.exec(text);
    return m ? `${m[1]}: ${m[2] ?? 'cannot parse'}` : null;
  }
}

/**
 * Checks a graph and compiles what the engine needs; throws DSP_RULESET_INVALID listing every
 * problem (node id and name, and what is wrong).
 */
export function compileGraph(input: unknown): CompiledGraph {
  const problems: Problem[] = [];
  const fail = (nodeId: string | null, node: string | null, problem: string) => problems.push({ nodeId, node, problem });
  if (!isObj(input) || !Array.isArray(input.nodes) || !Array.isArray(input.edges)) {
    throw invalid([{ nodeId: null, node: null, problem: 'the graph must be a JSON Decision Model: an object with "nodes" and "edges" arrays' }]);
  }
  if (deeperThan(input, MAX_DEPTH)) {
    throw invalid([{ nodeId: null, node: null, problem: `the graph is nested deeper than ${MAX_DEPTH} levels` }]);
  }
  const graph = structuredClone(input) as JdmGraph;
  const ids = new Set<string>();
  let inputId: string | null = null;
  let outputId: string | null = null;
  const tables: { node: JdmNode; content: Record<string, unknown> }[] = [];
  graph.nodes.forEach((n, i) => {
    if (!isObj(n) || typeof n.id !== 'string' || n.id === '' || typeof n.type !== 'string') {
      fail(null, null, `nodes[${i}] needs a string id and type`);
      return;
    }
    const name = typeof n.name === 'string' ? n.name : n.id;
    if (typeof n.name !== 'string') n.name = n.id;
    if (ids.has(n.id)) fail(n.id, name, 'duplicate node id');
    ids.add(n.id);
    if (CODE_NODES.has(n.type)) fail(n.id, name, `${n.type} runs code: only decision tables are accepted`);
    else if (OTHER_ENGINE_NODES.has(n.type)) fail(n.id, name, `${n.type} is not accepted: only decision tables (first or collect) between one input and one output node`);
    else if (n.type === 'inputNode') {
      if (inputId !== null) fail(n.id, name, 'a second input node');
      inputId = n.id;
    } else if (n.type === 'outputNode') {
      if (outputId !== null) fail(n.id, name, 'a second output node');
      outputId = n.id;
    } else if (n.type === 'decisionTableNode') {
      if (!isObj(n.content)) fail(n.id, name, 'a decision table needs a content object (hitPolicy, inputs, outputs, rules)');
      else tables.push({ node: n, content: n.content });
    } else fail(n.id, name, `unknown node type ${JSON.stringify(n.type)}`);
  });
  if (inputId === null) fail(null, null, 'the graph has no input node');
  if (outputId === null) fail(null, null, 'the graph has no output node');
  if (tables.length === 0 && problems.length === 0) fail(null, null, 'the graph has no decision table');

  const from = new Map<string, Set<string>>();
  graph.edges.forEach((e, i) => {
    if (!isObj(e) || typeof e.sourceId !== 'string' || typeof e.targetId !== 'string') {
      fail(null, null, `edges[${i}] needs string sourceId and targetId`);
      return;
    }
    if (!ids.has(e.sourceId) || !ids.has(e.targetId)) {
      fail(null, null, `edges[${i}] joins a node that does not exist (${e.sourceId} -> ${e.targetId})`);
      return;
    }
    const targets = from.get(e.sourceId) ?? new Set<string>();
    targets.add(e.targetId);
    from.set(e.sourceId, targets);
  });

  const compiled: CompiledTable[] = [];
  const rules = new Map<string, CompiledRule>();
  let order = 0;
  for (const { node, content } of tables) {
    const t = (problem: string) => fail(node.id, node.name, problem);
    if (inputId !== null && !from.get(inputId)?.has(node.id)) t('the table must be wired from the input node');
    if (outputId !== null && !from.get(node.id)?.has(outputId)) t('the table must be wired to the output node');
    const extra = [...(from.get(node.id) ?? [])].filter((x) => x !== outputId);
    if (extra.length > 0) t(`the table may feed only the output node (it feeds ${extra.join(', ')})`);
    const hitPolicy = content.hitPolicy;
    if (hitPolicy !== 'first' && hitPolicy !== 'collect') t(`hitPolicy must be "first" or "collect", got ${JSON.stringify(hitPolicy)}`);
    if (!Array.isArray(content.inputs) || !Array.isArray(content.outputs) || !Array.isArray(content.rules)) {
      t('a decision table needs inputs, outputs and rules arrays');
      continue;
    }
    let perLine = false;
    let readsPlan = false;
    const inputCols: string[] = [];
    for (const [i, col] of content.inputs.entries()) {
      if (!isObj(col) || typeof col.id !== 'string' || typeof col.field !== 'string' || col.field === '') {
        t(`inputs[${i}] needs a string id and field`);
        continue;
      }
      const scope = fieldScope(col.field);
      if (scope === null) t(`input column ${JSON.stringify(col.name ?? col.id)} reads an unknown field ${JSON.stringify(col.field)} (docs/rules.md lists the fields)`);
      if (scope === 'line') perLine = true;
      if (scope === 'plan') readsPlan = true;
      inputCols.push(col.id);
    }
    let actionCol: string | null = null;
    let ruleCol: string | null = null;
    const paramCols = new Map<string, string>();
    for (const [i, col] of content.outputs.entries()) {
      if (!isObj(col) || typeof col.id !== 'string' || typeof col.field !== 'string') {
        t(`outputs[${i}] needs a string id and field`);
        continue;
      }
      if (col.field === 'action') actionCol = col.id;
      else if (col.field === 'rule') ruleCol = col.id;
      else if (/^params\.[A-Za-z][A-Za-z0-9_]*$/.test(col.field)) paramCols.set(col.id, col.field.slice('params.'.length));
      else t(`output column ${JSON.stringify(col.field)}: outputs are "rule", "action" and "params.<name>"`);
    }
    if (actionCol === null) t('the table has no "action" output column');
    if (ruleCol === null) t('the table has no "rule" output column');
    if (rules.size + content.rules.length > MAX_RULES) t(`a ruleset holds at most ${MAX_RULES} rules`);
    for (const [i, row] of content.rules.entries()) {
      if (!isObj(row)) {
        t(`rules[${i}] is not an object`);
        continue;
      }
      const where = `row ${i + 1}`;
      let specificity = 0;
      for (const c of inputCols) {
        const cell = row[c];
        if (cell === undefined || cell === null || (typeof cell === 'string' && cell.trim() === '')) continue;
        if (typeof cell !== 'string') {
          t(`${where}: input cell ${c} must be text`);
          continue;
        }
        specificity++;
        const sp = syntaxProblem(cell, true);
        if (sp) t(`${where}: input cell ${JSON.stringify(cell)} is malformed (${sp})`);
      }
      const ruleName = ruleCol !== null ? literal(row[ruleCol]) : null;
      if (ruleCol !== null && (ruleName === null || ruleName === '')) t(`${where}: the rule cell must be a non-empty quoted name, e.g. "RECY core return"`);
      const actionName = actionCol !== null ? literal(row[actionCol]) : null;
      if (actionCol !== null && actionName === null) t(`${where}: the action cell must be a quoted action code, e.g. "WAYBILL_NOTE"`);
      else if (actionName !== null && !isActionCode(actionName)) t(`${where}: unknown action ${JSON.stringify(actionName)} (docs/rules.md lists the actions)`);
      const given = new Set<string>();
      for (const [colId, param] of paramCols) {
        const cell = row[colId];
        if (cell === undefined || cell === null || (typeof cell === 'string' && cell.trim() === '')) continue;
        if (typeof cell !== 'string') {
          t(`${where}: params.${param} must be text`);
          continue;
        }
        given.add(param);
        const sp = syntaxProblem(cell, false);
        if (sp) t(`${where}: params.${param} cell ${JSON.stringify(cell)} is malformed (${sp})`);
      }
      if (actionName !== null && isActionCode(actionName)) {
        const spec = ACTIONS[actionName];
        const specParams: Record<string, { required: boolean }> = spec.params;
        for (const p of given) if (!Object.hasOwn(specParams, p)) t(`${where}: ${actionName} takes no params.${p}`);
        for (const [p, s] of Object.entries(specParams)) if (s.required && !given.has(p)) t(`${where}: ${actionName} needs params.${p}`);
        const hook: Hook = spec.hook;
        if (readsPlan && hook === 'before') t(`${where}: ${actionName} changes the candidates (hook before), but the table reads plan.* fields, known only after the plan`);
        if (ruleName) {
          if (rules.has(ruleName)) t(`${where}: rule name ${JSON.stringify(ruleName)} is used twice in the ruleset`);
          else rules.set(ruleName, { name: ruleName, table: node.name, action: actionName, specificity, order: order++ });
        }
      }
    }
    // The service owns how a table runs: its result under its node id, once per line when it reads line.* fields.
    content.outputPath = node.id;
    content.passThrough = false;
    if (perLine) {
      content.inputField = 'lines';
      content.executionMode = 'loop';
    } else {
      delete content.inputField;
      content.executionMode = 'single';
    }
    compiled.push({ nodeId: node.id, name: node.name, hitPolicy: hitPolicy === 'collect' ? 'collect' : 'first', perLine, readsPlan });
  }
  if (problems.length > 0) throw invalid(problems);
  return { graph, tables: compiled, rules };
}

/** Deepest nesting a graph may have: a JDM graph is 6 levels deep; copying a much deeper value overflows the stack. */
const MAX_DEPTH = 32;

/** Whether a JSON value nests deeper than `max` (walked without recursion, so that any depth is safe). */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return false;
}

function invalid(problems: Problem[]): DspError {
  const first = problems[0]!;
  const where = first.nodeId !== null ? `node ${first.nodeId} (${first.node}): ` : '';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''} in details)` : '';
  return new DspError('DSP_RULESET_INVALID', `${where}${first.problem}${more}`, problems.slice(0, 50));
}
