import type { FastifyInstance } from 'fastify';
import { DspError } from '../errors.js';

/**
 * Where an instance is in its life:
 *   running   serving, ready;
 *   draining  shutting down: readiness answers 503 DSP_SHUTTING_DOWN so the load balancer stops
 *             sending, requests are still served (SHUTDOWN_READY_DELAY_MS);
 *   closing   the listener is closed; a request that still arrives on an open keep-alive
 *             connection answers 503 DSP_SHUTTING_DOWN (Retry-After, Connection: close) instead of
 *             starting work the process may not finish.
 */
export type Phase = 'running' | 'draining' | 'closing';

export class Lifecycle {
  phase: Phase = 'running';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The instance's phase (readiness reads it; the shutdown sequence in src/ops/shutdown.ts moves it). */
    dspLifecycle: Lifecycle;
  }
}

/** Decorates the app with its lifecycle and refuses requests once it is closing. Install before the other onRequest hooks. */
export function installLifecycle(app: FastifyInstance): Lifecycle {
  const life = new Lifecycle();
  app.decorate('dspLifecycle', life);
  app.addHook('onRequest', async (_req, reply) => {
    if (life.phase !== 'closing') return;
    void reply.header('connection', 'close');
    throw new DspError('DSP_SHUTTING_DOWN', 'this instance is shutting down; retry on another one');
  });
  // Shutting down, every answer closes its connection: a keep-alive connection left idle after its
  // last answer would hold server.close() until fastify's keep-alive timeout (72 s), and a client
  // behind a load balancer reconnects to an instance that stays.
  app.addHook('onSend', async (_req, reply) => {
    if (life.phase !== 'running') void reply.header('connection', 'close');
  });
  return life;
}

/** Seconds a client should wait before retrying a 503 (Retry-After). */
export const RETRY_AFTER_503_S = 1;
