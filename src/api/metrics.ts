import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SolverPool } from '../solve/pool.js';
import { errorResponses } from './responses.js';
import type { Services } from './services.js';

/**
 * Buckets in seconds (Prometheus' base unit) from 10 µs to 3 s: rules and the exact search at the
 * low end, a MIP at the top. The decisions report microseconds; they are observed divided by 1e6.
 */
const SOLVE_SECONDS = [0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3];
/** HTTP request durations, seconds: 0.5 ms (a rejected request) to 10 s. */
const HTTP_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
const NODES = [0, 1, 3, 10, 30, 100, 300, 1_000, 3_000, 10_000, 100_000];

/**
 * GET /metrics in the Prometheus text format (prom-client): per decision, which solver answered,
 * its time and search nodes, the whole decision time, outcomes; the solver pool's paths; HTTP
 * requests by route, method and status; the action outbox's deliveries and entries; the process's own metrics. Times in seconds. One registry per service instance (tests run several in one process).
 */
export const metricsRoutes = (svc: Services): FastifyPluginAsync =>
  // Not encapsulated (fastify-plugin): the HTTP hook must see every route of the service.
  fp(async (app) => {
    const register = new Registry();
    collectDefaultMetrics({ register, prefix: 'dispatchd_' });
    const decisions = new Counter({
      name: 'dispatchd_decisions_total',
      help: 'Allocation decisions made, by mode (radius-lock | optimized | fallback), solver and status',
      labelNames: ['mode', 'solver', 'status'] as const,
      registers: [register],
    });
    const solveSeconds = new Histogram({
      name: 'dispatchd_solve_seconds',
      help: "The solver's own wall time per decision, seconds",
      labelNames: ['solver'] as const,
      buckets: SOLVE_SECONDS,
      registers: [register],
    });
    const decideSeconds = new Histogram({
      name: 'dispatchd_decide_seconds',
      help: 'Whole decision time (stock reads, candidates, solve, reservation), seconds',
      labelNames: ['mode'] as const,
      buckets: SOLVE_SECONDS,
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
      solveSeconds.observe({ solver: s.solver }, s.solveMicros / 1e6);
      decideSeconds.observe({ mode: d.mode }, s.decideMicros / 1e6);
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

    // The action outbox: attempts this instance made, per webhook target; entries per state from
    // the shared store (every instance reports the same totals, so take one, not the sum).
    const outboxDelivered = new Counter({ name: 'dispatchd_outbox_delivered_total', help: 'Outbox deliveries a webhook answered 2xx, by this instance, per target', labelNames: ['target'] as const, registers: [register] });
    const outboxFailed = new Counter({ name: 'dispatchd_outbox_failed_attempts_total', help: 'Outbox delivery attempts that failed (non-2xx, timeout, network error), by this instance, per target', labelNames: ['target'] as const, registers: [register] });
    const outboxDead = new Counter({ name: 'dispatchd_outbox_dead_total', help: 'Outbox entries dead-lettered after their last attempt failed, by this instance, per target', labelNames: ['target'] as const, registers: [register] });
    svc.outbox.listeners.push((e) => (e.kind === 'delivered' ? outboxDelivered : e.kind === 'dead' ? outboxDead : outboxFailed).inc({ target: e.target }));
    new Gauge({
      name: 'dispatchd_outbox_entries',
      help: 'Outbox entries in the shared store by state (pending, delivered, dead); absent when the store cannot be read',
      labelNames: ['state'] as const,
      registers: [register],
      async collect() {
        this.reset();
        const counts = await svc.outbox.counts().catch(() => null);
        if (counts) for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });

    // HTTP requests by route pattern (not the raw URL, so ids do not multiply the series), method
    // and status. Requests that matched no route count under route "unmatched".
    const httpSeconds = new Histogram({
      name: 'dispatchd_http_request_duration_seconds',
      help: 'HTTP request duration from arrival to the response sent, seconds, by route, method and status code',
      labelNames: ['route', 'method', 'status_code'] as const,
      buckets: HTTP_SECONDS,
      registers: [register],
    });
    const httpRequests = new Counter({
      name: 'dispatchd_http_requests_total',
      help: 'HTTP requests answered, by route, method and status code',
      labelNames: ['route', 'method', 'status_code'] as const,
      registers: [register],
    });
    app.addHook('onResponse', (req, reply, done) => {
      const labels = { route: req.routeOptions.url ?? 'unmatched', method: req.method, status_code: reply.statusCode };
      httpRequests.inc(labels);
      httpSeconds.observe(labels, reply.elapsedTime / 1_000);
      done();
    });

    const metricsSchema = {
      operationId: 'getMetrics',
      tags: ['health'],
      summary: 'Prometheus metrics (text format)',
      response: { 200: { description: 'The metrics, Prometheus text format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errorResponses() },
    };
    app.get('/metrics', { schema: metricsSchema }, async (_req, reply) => {
      void reply.type(register.contentType);
      return register.metrics();
    });
  }, { name: 'dispatchd-metrics' });
