import type { FastifyPluginAsync } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SolverPool } from '../solve/pool.js';
import type { Services } from './services.js';

/** Microsecond buckets from 10 µs to 3 s: rules and the exact search at the low end, a MIP at the top. */
const MICROS = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000];
const NODES = [0, 1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000];

/**
 * GET /metrics in the Prometheus text format (prom-client): per decision, which solver answered,
 * its time and search nodes, the whole decision time, outcomes; the solver pool's paths; the
 * process's own metrics. One registry per service instance (tests run several in one process).
 */
export const metricsRoutes =
  (svc: Services): FastifyPluginAsync =>
  async (app) => {
    const register = new Registry();
    collectDefaultMetrics({ register, prefix: 'dispatchd_' });
    const decisions = new Counter({
      name: 'dispatchd_decisions_total',
      help: 'Allocation decisions made, by mode (radius-lock | optimized | fallback), solver and status',
      labelNames: ['mode', 'solver', 'status'] as const,
      registers: [register],
    });
    const solveMicros = new Histogram({
      name: 'dispatchd_solve_microseconds',
      help: "The solver's own wall time per decision, µs",
      labelNames: ['solver'] as const,
      buckets: MICROS,
      registers: [register],
    });
    const decideMicros = new Histogram({
      name: 'dispatchd_decide_microseconds',
      help: 'Whole decision time (stock reads, candidates, solve, reservation), µs',
      labelNames: ['mode'] as const,
      buckets: MICROS,
      registers: [register],
    });
    const nodes = new Histogram({
      name: 'dispatchd_search_nodes',
      help: 'Search nodes explored per decision',
      labelNames: ['solver'] as const,
      buckets: NODES,
      registers: [register],
    });
    svc.allocator.listeners.push((d, s) => {
      decisions.inc({ mode: d.mode, solver: s.solver, status: d.status });
      solveMicros.observe({ solver: s.solver }, s.solveMicros);
      decideMicros.observe({ mode: d.mode }, s.decideMicros);
      nodes.observe({ solver: s.solver }, s.nodes);
    });
    if (svc.solver instanceof SolverPool) {
      const pool = svc.solver;
      new Gauge({
        name: 'dispatchd_solver_pool_tasks',
        help: 'Solves by path since start: in-thread, pooled, overloaded (refused), worker-failure, late (greedy answered past deadline + grace), stuck-abort (aborted 5 s past deadline)',
        labelNames: ['path'] as const,
        registers: [register],
        collect() {
          const c = pool.counters;
          this.set({ path: 'in-thread' }, c.inThread);
          this.set({ path: 'pooled' }, c.pooled);
          this.set({ path: 'overloaded' }, c.overloaded);
          this.set({ path: 'worker-failure' }, c.workerFailures);
          this.set({ path: 'late' }, c.late);
          this.set({ path: 'stuck-abort' }, c.stuckAborts);
        },
      });
    }

    app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics (text format)', produces: ['text/plain'] } }, async (_req, reply) => {
      void reply.type(register.contentType);
      return register.metrics();
    });
  };
