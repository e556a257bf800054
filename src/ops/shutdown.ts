import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';

/**
 * The shutdown sequence of `serve` (SIGTERM from an orchestrator, SIGINT from a terminal):
 *
 *   1. draining: readiness answers 503 DSP_SHUTTING_DOWN; replay jobs are marked failed (visible
 *      in GET /v1/scenarios/{id} meanwhile) and new ones refused; `beforeClose` runs (the demo
 *      feed stops and waits for its allocations); requests are still served for
 *      SHUTDOWN_READY_DELAY_MS (SIGTERM only), so the load balancer sees the 503 and stops sending;
 *   2. closing: app.close(): live-map sockets get a Goodbye (DSP_SHUTTING_DOWN) and are
 *      disconnected, the listener stops, keep-alive connections close as soon as they are idle
 *      (every answer since step 1 said Connection: close), a request arriving on a busy one
 *      answers 503 DSP_SHUTTING_DOWN, in-flight requests (allocations) finish, then the
 *      solver, the WMS poller and the store close;
 *   3. exit 0. Whatever still runs at SHUTDOWN_GRACE_MS after the signal, the process exits with
 *      code 1 (a second signal exits at once).
 */
export function shutdownOnSignals(app: FastifyInstance, config: Config, beforeClose: () => Promise<void> = async () => undefined): void {
  let started = false;
  const run = async (signal: NodeJS.Signals): Promise<void> => {
    if (started) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    started = true;
    const t0 = Date.now();
    setTimeout(() => {
      // What was still open (sockets, timers, …): the lead to whatever held the shutdown up.
      const open = process.getActiveResourcesInfo().reduce<Record<string, number>>((m, r) => ({ ...m, [r]: (m[r] ?? 0) + 1 }), {});
      app.log.error({ signal, graceMs: config.shutdownGraceMs, open }, 'shutdown grace exceeded: exiting with work unfinished');
      process.exit(1);
    }, config.shutdownGraceMs).unref();
    app.dspLifecycle.phase = 'draining';
    app.log.info({ signal, readyDelayMs: signal === 'SIGTERM' ? config.shutdownReadyDelayMs : 0, graceMs: config.shutdownGraceMs }, 'shutting down: readiness now 503');
    const failed = await app.dspReplays.failAll(`the instance shut down (${signal}) while the replay ran; start it again`);
    if (failed > 0) app.log.warn({ replays: failed }, 'replay jobs marked failed');
    const before = beforeClose().catch((err: unknown) => app.log.error({ err }, 'shutdown: stopping the demo failed'));
    if (signal === 'SIGTERM') await new Promise((r) => setTimeout(r, config.shutdownReadyDelayMs));
    // The demo's own allocations finish, but within half the grace at most: the rest of it is for
    // the requests in flight and the store's close.
    const budget = Math.max(0, config.shutdownGraceMs / 2 - (Date.now() - t0));
    let budgetTimer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([before.then(() => true), new Promise<boolean>((r) => (budgetTimer = setTimeout(() => r(false), budget)))]);
    clearTimeout(budgetTimer);
    if (!inTime) app.log.warn({ budgetMs: budget }, 'shutdown: the demo feed did not stop in time; closing anyway');
    app.dspLifecycle.phase = 'closing';
    app.log.info({ ms: Date.now() - t0 }, 'shutting down: closing the listener, live sockets and in-flight requests');
    // Connections that were answering when the listener closed become idle afterwards; close them
    // as they do (server.close() reaps idle connections only once, at its start).
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    await app.close();
    clearInterval(reaper);
    app.log.info({ signal, ms: Date.now() - t0 }, 'shut down');
    process.exit(0);
  };
  const on = (signal: NodeJS.Signals) => process.on(signal, () => void run(signal).catch((err: unknown) => {
    app.log.error({ err }, 'shutdown failed');
    process.exit(1);
  }));
  on('SIGTERM');
  on('SIGINT');
}
