import type { FastifyInstance } from 'fastify';
import type { Role } from '../config.js';

/** Whether an address is this machine's (the demo hands keys to local browsers only). */
function loopback(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1' || ip.startsWith('127.');
}

/**
 * Demo mode (DEMO_FEED=on): one API key per role, with new secrets at every start, so that
 * `npm ci && npm start` runs with no set-up. The keys are printed (as `export` lines for the
 * README tour, and links that hand the pages their key); GET /demo/keys gives the pages the
 * dispatcher and planner keys without typing, to clients on this machine only (the service
 * binds to loopback by default). Demo mode is not for production: the Docker image turns it off.
 */
export async function startDemoKeys(app: FastifyInstance): Promise<{ keys: Record<Role, string>; print: (baseUrl: string) => void }> {
  const keys = await app.dspKeys.createDemoKeys();
  await app.register(async (scope) => {
    scope.get('/demo/keys', { schema: { hide: true } }, async (req, reply) => {
      if (!loopback(req.ip)) return reply.status(404).send({ error: { code: 'DSP_NOT_FOUND', message: `no route GET ${req.url}`, details: [] } });
      void reply.header('cache-control', 'no-store');
      return { dispatcher: keys.dispatcher, planner: keys.planner };
    });
  });
  const print = (baseUrl: string) => {
    const lines = [
      '',
      'dispatchd demo keys (DEMO_FEED=on: new at every start; demo mode is not for production). For the README tour, paste:',
      ...Object.entries(keys).map(([role, key]) => `  export DSP_${role.toUpperCase()}_KEY=${key}`),
      `  live map:     ${baseUrl}/#key=${keys.dispatcher}`,
      `  replays page: ${baseUrl}/web/planner.html#key=${keys.planner}`,
      `  rules page:   ${baseUrl}/web/rules.html#key=${keys.planner}`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  };
  return { keys, print };
}
