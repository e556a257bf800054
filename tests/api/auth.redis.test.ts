import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { seededRedisStore } from '../support/app.js';
import { startRedis } from '../support/redis-server.js';
import { authCases } from './auth.cases.js';

// Two instances, each with its own connection to one real Redis of the test's own.
let server: Awaited<ReturnType<typeof startRedis>>;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

authCases('one Redis node, two instances', async (net, shared) => {
  const redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1_000 });
  redis.on('error', () => undefined);
  await new Promise((r) => redis.once('ready', r));
  if (!shared) await redis.flushall();
  return seededRedisStore(redis)(net);
});
