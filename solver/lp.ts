import * as lpModule from 'javascript-lp-solver';
import type { Model, SolverAPI } from 'javascript-lp-solver';
import { buildMip, decodeMip, MipFailure, solveReduced, type Mip } from './mip.js';
import type { Problem, SolveResult } from './types.js';

// The package's types are read as CommonJS under NodeNext while Node loads its ESM build; the
// namespace's `default` is the solver in both readings.
const lpSolver = lpModule.default as unknown as SolverAPI;

/** Renders the MIP (solver/mip.ts) as a javascript-lp-solver JSON model. */
export function toJsLpModel(mip: Mip, timeoutMs: number): Model {
  const constraints: Model['constraints'] = {};
  const variables: Model['variables'] = {};
  const ints: Record<string, 1> = {};
  const binaries: Record<string, 1> = {};
  for (const v of mip.vars) {
    variables[v.name] = { cost: v.cost };
    if (v.kind === 'integer') ints[v.name] = 1;
    if (v.kind === 'binary') binaries[v.name] = 1;
    if (v.kind !== 'binary' && Number.isFinite(v.ub)) {
      // Upper bounds become one-variable rows: the JSON format has no bounds section.
      constraints[`ub_${v.name}`] = { max: v.ub };
      variables[v.name]![`ub_${v.name}`] = 1;
    }
  }
  for (const r of mip.rows) {
    constraints[r.name] = r.sense === '=' ? { equal: r.rhs } : r.sense === '<=' ? { max: r.rhs } : { min: r.rhs };
    for (const [coef, name] of r.terms) variables[name]![r.name] = (variables[name]![r.name] ?? 0) + coef;
  }
  // Exact: no relative gap tolerance; the timeout is the only way out (then the caller falls back).
  return { optimize: 'cost', opType: 'min', constraints, variables, ints, binaries, options: { tolerance: 0, timeout: timeoutMs } };
}

/**
 * The general MIP path on javascript-lp-solver. Measured here on generated orders it often
 * answers "feasible" with fractional values or a non-optimal plan (docs/cost-model.md), so it is
 * not the default exact path; it stays selectable (SOLVER=lp) and benchmarked. Its answers are
 * decoded and verified like any backend's: an infeasible plan is never returned.
 */
export function solveLp(p: Problem, opts: { timeoutMs?: number } = {}): SolveResult {
  const t0 = performance.now();
  const plan = solveReduced(p, (reduced) => {
    const mip = buildMip(reduced);
    const res = lpSolver.Solve(toJsLpModel(mip, opts.timeoutMs ?? 5_000)) as Record<string, unknown> & { feasible: boolean };
    if (!res.feasible) throw new MipFailure('javascript-lp-solver reported the model infeasible or timed out');
    return decodeMip(
      reduced,
      (name) => {
        const v = res[name];
        return typeof v === 'number' ? v : 0;
      },
      new Set(mip.vars.map((v) => v.name)),
    );
  });
  return { plan, stats: { solver: 'lp', micros: (performance.now() - t0) * 1_000, nodes: 0 }, optimal: true };
}
